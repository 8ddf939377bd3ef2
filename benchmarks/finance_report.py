"""The finance report's speed from the read model, and its identity on the workload.

    .venv/bin/python -m benchmarks.finance_report [--store sqlite|postgres]
        [--accounts 100000] [--commands 300000] [--out PATH]

Decides the benchmark workload (``tests.workload``) with the core, folds each account's books
as the projector does, stores the months in a throwaway read model, then times (best of
``--repeat``) the report over the workload's first month and over every month, as
``credits finance report`` reads it. Every account's line must balance (``opening + bought -
consumed - refunded - forfeited = closing``, credits and cents), and every month too, or the
benchmark fails. Prints the figures and writes them to
benchmarks/results/finance-report-<store>.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import report
from benchmarks.throwaway import throwaway
from projections import finance
from projections.finance_report import Report
from projections.finance_report import report as finance_report
from projections.store import open_read_model
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, handle
from services.ledger.core.past import Remembered
from services.settings import REPO
from tests.workload import START, command_log

Months = dict[tuple[str, str], finance.Period]


def main() -> None:
    args = _arguments()
    months = _folded(args.commands, args.accounts)
    with throwaway(args.store) as settings:
        store, model = open_read_model(settings)
        try:
            rows = list(months.items())
            for n in range(0, len(rows), 10_000):
                model.recorder.add_history([], dict(rows[n : n + 10_000]))
            first, last = f"{START:%Y-%m}", max(month for _, month in months)

            def read(upto: str, start: str) -> Report:
                return finance_report(model.recorder.periods(upto), start, upto)

            one_s, one = _best(args.repeat, lambda: read(first, first))
            all_s, every = _best(args.repeat, lambda: read(last, first))
        finally:
            store.close()
    for got in (one, every):
        unbalanced = [line.account_id for line in got.lines if not line.balanced]
        assert not unbalanced and got.total.balanced, f"unbalanced: {unbalanced[:10]}"
    assert all(p.balanced for p in months.values())
    results = {
        "store": args.store,
        "accounts": args.accounts,
        "commands": args.commands,
        "month_rows": len(months),
        "months": f"{first} to {last}",
        "one_month_seconds": round(one_s, 3),
        "every_month_seconds": round(all_s, 3),
        "lines": len(every.lines),
        "closing_cents": every.total.closing_cents,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = args.out or REPO / "benchmarks" / "results" / f"finance-report-{args.store}.json"
    report.written(results, out)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--commands", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args()


def _folded(commands: int, accounts: int) -> Months:
    """Every account's months, as the projector stores them (the latest figures of each)."""
    catalog, past = load_catalog(), Remembered()
    states: dict[str, Account] = {}
    books: dict[str, finance.Books] = {}
    months: Months = {}
    for command in command_log(commands, accounts):
        account_id = command.account_id
        decision = handle(command, states.get(account_id, Account()), catalog, past)
        past.remember(decision.events)
        states[account_id] = decision.state
        kept = books.get(account_id, finance.Books())
        for event in decision.events:
            kept = finance.fold(kept, event)
            assert kept.period is not None
            months[account_id, kept.period.month] = kept.period
        books[account_id] = kept
    return months


def _best(repeat: int, run: Callable[[], Report]) -> tuple[float, Report]:
    times, got = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        got = run()
        times.append(time.perf_counter() - began)
    assert got is not None
    return min(times), got


if __name__ == "__main__":
    main()
