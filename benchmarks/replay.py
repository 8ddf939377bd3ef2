"""Replay speed: how fast account histories are read from the event store, decoded and folded.

    .venv/bin/python -m benchmarks.replay [--store sqlite|postgres] [--events 100000]

Builds a throwaway store with one account of ``--events`` events and ``--accounts`` accounts
holding as many events between them, then times (best of ``--repeat``) replaying the long
account, and replaying every account from the notification log. Prints the figures and writes
them to benchmarks/results/replay-<store>.json.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from benchmarks import report
from benchmarks.throwaway import throwaway
from events.commands import BuyPackage, CycleRenewed, UseTool
from services.ledger.catalog_file import load_catalog
from services.ledger.chain import GENESIS
from services.ledger.core import Account, evolve, handle
from services.ledger.store import LedgerStore, gc_paused, seal
from services.ledger.upcasting import recorded
from services.settings import REPO

START = datetime(2026, 1, 1, tzinfo=UTC)


def history(account: str, events: int) -> list:
    """An account's stream: a renewal, a large package now and then, and tool uses."""
    catalog, state, head, sealed = load_catalog(), Account(), GENESIS, []
    n = 0
    while state.version < events:
        at = START + timedelta(seconds=n)
        base = {"command_id": f"{account}-{n}", "account_id": account, "occurred_at": at}
        if n == 0:
            command = CycleRenewed(
                **base, plan="agency", cycle_start=START, cycle_end=START + timedelta(days=31)
            )
        elif n % 900 == 1:
            command = BuyPackage(**base, package="large", payment_ref=f"pay-{account}-{n}")
        else:
            command = UseTool(**base, tool="keyword_suggestions", units=1 + n % 5)
        decision = handle(command, state, catalog)
        for version, event in enumerate(decision.events, start=state.version + 1):
            sealed.append(seal(account, version, event, head))
            head = sealed[-1].chain
        state, n = decision.state, n + 1
    return sealed[:events]


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    args = _arguments()
    with throwaway(args.store) as settings:
        store = LedgerStore(settings)
        try:
            total = _filled(store, args.events, args.accounts)
            # The setup's lists are gone: measure replay, not the collector walking its leftovers.
            gc.collect()
            results = _measured(store, args, total)
        finally:
            store.close()
    report.written(results, REPO / "benchmarks" / "results" / f"replay-{args.store}.json")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def _filled(store: LedgerStore, events: int, accounts: int) -> int:
    """Store one account of ``events`` events and ``accounts`` accounts sharing as many;
    returns the events stored."""
    long_stream = history("acct-long", events)
    per_account = events // accounts
    many = [r for a in range(accounts) for r in history(f"acct-{a:05d}", per_account)]
    for chunk in range(0, len(long_stream), 10_000):
        store.append(long_stream[chunk : chunk + 10_000])
    for chunk in range(0, len(many), 10_000):
        store.append(many[chunk : chunk + 10_000])
    return len(long_stream) + len(many)


def _replay_all(store: LedgerStore, total: int) -> None:
    """Every account folded from the notification log, page by page."""
    states: dict[str, Account] = defaultdict(Account)
    after = 0
    while True:
        with gc_paused():
            rows = store.log_rows(after, 10_000)
            decoded = [recorded(*row[1:]) for row in rows]
        if not rows:
            break
        with gc_paused():
            for event in decoded:
                states[event.originator_id] = evolve(states[event.originator_id], event.event)
        after = rows[-1][0]
    assert sum(s.version for s in states.values()) == total


def _measured(store: LedgerStore, args: argparse.Namespace, total: int) -> dict[str, object]:
    def replay_one() -> None:
        assert store.load("acct-long").version == args.events  # no snapshot: every event

    one_s = best(args.repeat, replay_one)
    all_s = best(args.repeat, lambda: _replay_all(store, total))
    return {
        "store": args.store,
        "one_account_events": args.events,
        "one_account_seconds": round(one_s, 3),
        "one_account_events_per_s": round(args.events / one_s),
        "all_accounts": args.accounts + 1,
        "all_accounts_events": total,
        "all_accounts_seconds": round(all_s, 3),
        "all_accounts_events_per_s": round(total / all_s),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


if __name__ == "__main__":
    main()
