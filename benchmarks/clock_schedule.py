"""What the clock's schedule costs at many accounts: one whole read of the read model, as the
clock did every minute, against a read a page at a time and the steady state's announced rows.

    .venv/bin/python -m benchmarks.clock_schedule [--store sqlite|postgres]
        [--accounts 1000000] [--page-rows 5000]

Fills a throwaway read model with ``--accounts`` rows (an account on a monthly plan with a
package and an open hold: a cycle, a purchased lot and a hold to schedule), then times, in
this process and with no broker:

- ``whole_read_s``: the read model read whole at once and every row scheduled, what the clock
  did when it became active and every ``KALEMA_CLOCK_RESCAN_S`` (then 60 s), the loop blocked
  throughout (its lease is renewed every third of ``KALEMA_CLOCK_LEASE_TTL_S``, 10 s);
- ``paged_read_s`` and ``page_max_ms``: the same work a page of ``--page-rows`` at a time, as the
  clock does now on becoming active; the longest page is the longest the loop goes without
  renewing its lease;
- ``announced_row_us``: re-reading and scheduling the rows the balances topic names, in
  batches of 100, per row: what the steady state costs per balance that changed.

Prints the figures and writes them to benchmarks/results/clock_schedule.json (``--out``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.throwaway import throwaway
from events.commands import BuyPackage, CycleRenewed, ReserveCredits
from projections import balance
from projections.balance import BalanceView
from projections.batch import Entry
from projections.recorders import UPSERT
from projections.store import BalanceReadModel
from services.clock.schedule import Schedule, next_due
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, handle
from services.ledger.store import LedgerStore
from services.settings import REPO

START = datetime(2026, 11, 1, tzinfo=UTC)
FILL_ROWS = 10_000  # rows written per transaction while filling


def account() -> Account:
    """One account's open lots and hold, as the read model's rows hold them."""
    catalog, state = load_catalog(), Account()
    common = {"account_id": "template", "occurred_at": START}
    for command in (
        CycleRenewed(
            **common,
            command_id="c1",
            plan="solo",
            cycle_start=START,
            cycle_end=START + timedelta(days=30),
        ),
        BuyPackage(**common, command_id="c2", package="small", payment_ref="p"),
        ReserveCredits(
            **common,
            command_id="c3",
            hold_id="h",
            tool="article_generation",
            units=1,
            expires_at=START + timedelta(hours=2),
        ),
    ):
        state = handle(command, state, catalog).state
    return state


def ids(accounts: int) -> Iterator[str]:
    return (f"acct-{n:08}" for n in range(accounts))


def fill(model: BalanceReadModel, accounts: int) -> float:
    """Write the rows, ``FILL_ROWS`` per transaction; the seconds it took."""
    began, template, recorder = time.perf_counter(), account(), model.recorder
    model.replace_all([], 0)
    chunk: list[tuple[Any, ...]] = []
    for account_id in ids(accounts):
        view = BalanceView(account_id, template, START)
        chunk.append(recorder.row(Entry(view), view.message()))
        if len(chunk) == FILL_ROWS:
            _write(model, chunk)
    _write(model, chunk)
    return time.perf_counter() - began


def _write(model: BalanceReadModel, rows: list[tuple[Any, ...]]) -> None:
    recorder = model.recorder
    with recorder.datastore.transaction(commit=True) as c:
        if rows:
            c.executemany(recorder.q(UPSERT), rows)
    rows.clear()


def scheduled(rows: list[dict[str, Any]], schedule: Schedule) -> None:
    """What the clock does with each row it reads."""
    for row in rows:
        view = balance.load(row["account_id"], row["view"])
        schedule.set(row["account_id"], next_due(view.account))


def whole_read(model: BalanceReadModel) -> tuple[float, int]:
    began, schedule = time.perf_counter(), Schedule()
    _, rows = model.snapshot()
    scheduled(rows, schedule)
    return time.perf_counter() - began, len(schedule)


def paged_read(model: BalanceReadModel, page_rows: int) -> tuple[float, list[float], int]:
    schedule, pages, after = Schedule(), [], ""
    while True:
        began = time.perf_counter()
        rows = model.page(after, page_rows)
        scheduled(rows, schedule)
        pages.append(time.perf_counter() - began)
        if len(rows) < page_rows:
            return sum(pages), pages, len(schedule)
        after = rows[-1]["account_id"]


def announced_rows(model: BalanceReadModel, accounts: int, batches: int = 50) -> float:
    """Microseconds per row to re-read and schedule rows named in batches of 100."""
    schedule, every, began = Schedule(), list(ids(accounts)), time.perf_counter()
    for _ in range(batches):
        found, _ = model.entries(random.sample(every, min(100, accounts)))
        for account_id, entry in found.items():
            schedule.set(account_id, next_due(entry.view.account))
    return 1e6 * (time.perf_counter() - began) / (batches * min(100, accounts))


def measure(store: str, accounts: int, page_rows: int) -> dict[str, Any]:
    with throwaway(store) as settings:
        ledger = LedgerStore(settings)
        try:
            model = BalanceReadModel(ledger)
            fill_s = fill(model, accounts)
            whole_s, whole_scheduled = whole_read(model)
            paged_s, pages, paged_scheduled = paged_read(model, page_rows)
            row_us = announced_rows(model, accounts)
        finally:
            ledger.close()
    return {
        "store": store,
        "accounts": accounts,
        "page_rows": page_rows,
        "fill_s": round(fill_s, 2),
        "whole_read_s": round(whole_s, 2),
        "paged_read_s": round(paged_s, 2),
        "pages": len(pages),
        "page_p50_ms": round(1000 * statistics.median(pages), 1),
        "page_max_ms": round(1000 * max(pages), 1),
        "announced_row_us": round(row_us, 1),
        "scheduled": paged_scheduled,
        "scheduled_by_whole_read": whole_scheduled,
        "lease_ttl_s": 10.0,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--page-rows", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/clock_schedule.json")
    args = parser.parse_args(argv)
    results = measure(args.store, args.accounts, args.page_rows)
    report.written(results, args.out)
    return results


if __name__ == "__main__":
    main()
