"""A long account: what a million decided commands cost one account, and 50,000 accounts the
ledger's memory (issue #11).

    .venv/bin/python -m benchmarks.long_account [--store sqlite|postgres] [--commands 1000000]

Builds a fresh store through the ledger's own batch path (``Ledger.decide_batch`` and
``commit``, no Kafka): one account with ``--commands`` decided commands (tool uses paid by its
plan and by packages it buys and spends, a hold settled and a refund now and then) and
``--accounts`` ordinary accounts beside it, then folds the balance and history read model.
Then measures, each on a fresh store instance:
- the long account's snapshot, in bytes, and the time to load its state (snapshot + tail;
  the tail made the longest a load folds, ``snapshot_every - 1`` events);
- the time to decide a repeat of one of its commands decided long ago (a fresh ledger: load,
  index lookup, answer), p50/p99;
- the time to read a page of its history (20 entries) at random depths, p50/p99;
- in a separate process, the ledger's resident memory once every account is in its cache.
The measurements run ``--runs`` times (3) over the same stored data; each figure is the
median, each timing taken after 10 runs not measured (statements prepared, as in a running
ledger). Prints the figures and writes them to benchmarks/results/long-account-<store>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from benchmarks.throwaway import throwaway
from events.commands import (
    BuyPackage,
    Command,
    CycleRenewed,
    RefundUsage,
    ReserveCredits,
    SettleHold,
    UseTool,
)
from projections import maintenance
from projections.settings import ProjectorSettings
from projections.store import BalanceReadModel
from services.ledger.catalog_file import load_catalog
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import REPO, Settings

START = datetime(2026, 11, 1, tzinfo=UTC)
LONG = "acct-long"
BATCH = 500
_OFFSETS = itertools.count()  # one partition, one log: offsets go on across loads


def long_history(commands: int) -> Iterator[Command]:
    """The long account, paying as a heavy user does: its plan's allowance, then a package of
    1,000 credits every 750 commands (about 1,330 credits) while its uses take about 1,280
    (keyword suggestions, a 50-credit hold settled at 30 every 100, a refund every 500): so it
    buys and spends packages, and the few it has not spent yet stay open. One command a
    second."""
    yield CycleRenewed(**_ids(LONG, 0), plan="agency", cycle_start=START, cycle_end=_at(2_600_000))
    yield BuyPackage(**_ids(LONG, 1), package="small", payment_ref="pay-1")
    for n in range(2, commands):
        base = _ids(LONG, n)
        if n % 750 == 0:
            yield BuyPackage(**base, package="small", payment_ref=f"pay-{n}")
        elif n % 100 == 1:
            yield ReserveCredits(
                **base, hold_id=f"h{n}", tool="article_generation", units=1, expires_at=_at(n + 60)
            )
        elif n % 100 == 2:
            yield SettleHold(**base, hold_id=f"h{n - 1}", credits=30)
        elif n % 500 == 3:
            yield RefundUsage(**base, of_command_id=f"{LONG}-{n - 10}")
        else:
            yield UseTool(**base, tool="keyword_suggestions")


def ordinary(accounts: int) -> Iterator[Command]:
    for a in range(accounts):
        account = f"acct-{a}"
        yield CycleRenewed(
            **_ids(account, 0), plan="solo", cycle_start=START, cycle_end=_at(2_600_000)
        )
        yield BuyPackage(**_ids(account, 1), package="small", payment_ref=f"pay-{account}")
        yield UseTool(**_ids(account, 2), tool="content_analysis")


def _ids(account: str, n: int) -> dict[str, Any]:
    return {"command_id": f"{account}-{n}", "account_id": account, "occurred_at": _at(n)}


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def load(ledger: Ledger, commands: Iterator[Command], total: int, label: str) -> None:
    """Decide and commit ``commands`` in batches of one partition, as the ledger does."""
    with Progress() as progress:
        task = progress.add_task(label, total=total)
        batch: list[Incoming] = []
        for command in commands:
            batch.append(_record(command))
            if len(batch) == BATCH:
                ledger.commit(ledger.decide_batch(batch))
                progress.advance(task, len(batch))
                batch = []
        if batch:
            ledger.commit(ledger.decide_batch(batch))
            progress.advance(task, len(batch))


WARM_UP = 10  # runs not measured first: a running ledger's statements are already prepared


def _record(command: Command) -> Incoming:
    """The command as the next record of the one partition."""
    value = command.model_dump_json().encode()
    return Incoming("commands", 0, next(_OFFSETS), command.account_id.encode(), value)


def longest_tail(ledger: Ledger, store: LedgerStore, commands: int) -> int:
    """Decide more uses, one a batch, until the long account's latest snapshot is followed by
    ``snapshot_every - 1`` events, the most a load ever folds (a fair worst case rather than
    whatever ``--commands`` leaves); returns the commands added."""
    added = 0
    while True:
        (snapshot,) = store.snapshots.recorder.select_events(LONG, desc=True, limit=1)
        if store.load(LONG).version - snapshot.originator_version >= store.snapshot_every - 1:
            return added
        use = UseTool(**_ids(LONG, commands + added), tool="keyword_suggestions")
        ledger.commit(ledger.decide_batch([_record(use)]))
        added += 1


def timed(action: Callable[[], object], times: int) -> dict[str, float]:
    """``action``'s duration over ``times`` runs, after ``WARM_UP`` runs not measured."""
    for _ in range(WARM_UP):
        action()
    took = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        took.append((time.perf_counter() - began) * 1000)
    took.sort()
    return {
        "p50_ms": round(statistics.median(took), 3),
        "p99_ms": round(took[int(len(took) * 0.99) - 1], 3),
        "max_ms": round(took[-1], 3),
    }


def measure(settings: Settings, commands: int) -> dict[str, Any]:
    store = LedgerStore(settings)
    try:
        (snapshot,) = store.snapshots.recorder.select_events(LONG, desc=True, limit=1)
        state = store.load(LONG)
        loads = timed(lambda: store.load_with_head(LONG), 200)
        old = [
            f"{LONG}-{n}" for n in random.Random(1).sample(range(3, commands // 2), 200 + WARM_UP)
        ]
        repeats = iter(  # as they arrive: encoded by their producer, not in the timing
            [
                _record(
                    UseTool(
                        command_id=command_id,
                        account_id=LONG,
                        occurred_at=_at(commands),
                        tool="keyword_suggestions",
                    )
                )
                for command_id in old
            ]
        )
        catalog = load_catalog()

        def repeat() -> None:  # a fresh ledger each time: nothing of the account is cached
            ledger = Ledger(store, catalog, max_message_bytes=65536, cache_size=10)
            (outcome,) = ledger.decide_batch([next(repeats)]).outcomes
            assert outcome.repeat, outcome

        repeated = timed(repeat, len(old) - WARM_UP)
        model = BalanceReadModel(store)
        depths = iter(random.Random(2).choices(range(0, state.version - 20), k=200 + WARM_UP))
        pages = timed(lambda: model.history(LONG, state.version, next(depths), 20), 200)
        first_pages = timed(lambda: model.history(LONG, state.version, 0, 20), 200)
        return {
            "long_account_events": state.version,
            "snapshot_bytes": len(snapshot.state),
            "events_after_snapshot": state.version - snapshot.originator_version,
            "snapshots_kept": len(store.snapshots.recorder.select_events(LONG)),
            "load_ms": loads,
            "repeat_decided_long_ago_ms": repeated,
            "history_page_at_random_depth_ms": pages,
            "history_first_page_ms": first_pages,
        }
    finally:
        store.close()


def memory(settings: Settings, accounts: int) -> float:
    """Resident MB of a process whose ledger holds every account in its cache."""
    code = (
        "import json, sys\n"
        "from services.ledger.catalog_file import load_catalog\n"
        "from services.ledger.ledger import Ledger\n"
        "from services.ledger.store import LedgerStore\n"
        "from services.settings import Settings\n"
        "settings = Settings.model_validate_json(sys.argv[1])\n"
        "ledger = Ledger(LedgerStore(settings), load_catalog(), max_message_bytes=65536,\n"
        f"                cache_size={accounts + 1})\n"
        f"for a in range({accounts}):\n"
        "    ledger._account(f'acct-{a}')\n"
        "ledger._account('acct-long')\n"
        "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
        "print(json.dumps({'cached': len(ledger._cache), 'rss_kb': int(rss)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, settings.model_dump_json()],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    found = json.loads(out.stdout)
    assert found["cached"] == accounts + 1, found
    return round(found["rss_kb"] / 1024, 1)


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the measurement runs (over the same stored data)."""
    out: dict[str, Any] = {}
    for name, first in runs[0].items():
        if isinstance(first, dict):
            out[name] = {k: statistics.median(r[name][k] for r in runs) for k in first}
        else:
            out[name] = statistics.median(r[name] for r in runs)
    out["ledger_rss_mb_with_every_account_cached"] = out.pop("rss_mb")
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    with throwaway(args.store) as settings:
        store = LedgerStore(settings)
        ledger = Ledger(store, load_catalog(), max_message_bytes=65536, cache_size=1000)
        began = time.perf_counter()
        load(ledger, ordinary(args.accounts), 3 * args.accounts, "ordinary accounts")
        load(ledger, long_history(args.commands), args.commands, "the long account")
        padded = longest_tail(ledger, store, args.commands)
        loaded_s = time.perf_counter() - began
        store.close()
        began = time.perf_counter()
        maintenance.rebuild(ProjectorSettings(**settings.model_dump()))
        folded_s = time.perf_counter() - began
        runs = [
            {
                **measure(settings, args.commands + padded),
                "rss_mb": memory(settings, args.accounts),
            }
            for _ in range(args.runs)
        ]
    return {
        "store": args.store,
        "long_account_commands": args.commands + padded,
        "ordinary_accounts": args.accounts,
        **median_of(runs),
        "runs": runs,
        "accounts_cached": args.accounts + 1,
        "seconds_to_decide_and_store_everything": round(loaded_s, 1),
        "seconds_to_fold_the_read_model_and_history": round(folded_s, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3, help="measurement runs (median kept)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    results = run(parser.parse_args())
    print(json.dumps(results, indent=2))
    out = parser.parse_args().out or (
        REPO / "benchmarks" / "results" / f"long-account-{results['store']}.json"
    )
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
