"""What an account's load costs as its open lots grow, and what the garbage collector adds.

    .venv/bin/python -m benchmarks.load_by_open_lots --packages 1000 [--collector running]

One account on a fresh SQLite store: an Agency cycle, a grant that pays every use, and
``--packages`` small packages bought among 20,000 tool uses and never spent (so they stay open
lots, as purchased credits do). Times ``LedgerStore.load_with_head`` 300 times (the snapshot
and the events after it). ``--collector running`` leaves Python's cyclic collector on during
each load, as the store did before it paused it there. Prints the snapshot's size and p50/p99.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

from benchmarks.long_account import LONG, START, _at, _ids, load
from events.commands import BuyPackage, Command, CycleRenewed, GrantCredits, UseTool
from services.ledger.catalog_file import load_catalog
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore, gc_paused
from services.settings import Settings

COMMANDS = 20_000


def history(packages: int) -> Iterator[Command]:
    yield CycleRenewed(**_ids(LONG, 0), plan="agency", cycle_start=START, cycle_end=_at(2_600_000))
    yield GrantCredits(**_ids(LONG, 1), credits=100_000_000, reason="pays every use")
    for n in range(2, COMMANDS):
        if n % (COMMANDS // packages) == 0:
            yield BuyPackage(**_ids(LONG, n), package="small", payment_ref=f"pay-{n}")
        else:
            yield UseTool(**_ids(LONG, n), tool="keyword_suggestions")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--collector", choices=["paused", "running"], default="paused")
    args = parser.parse_args()
    store = LedgerStore(Settings(sqlite_path=Path(tempfile.mkdtemp()) / "ledger.sqlite"))
    load(
        Ledger(store, load_catalog(), max_message_bytes=65536),
        history(args.packages),
        COMMANDS,
        "storing the account",
    )
    if args.collector == "running":  # as before: the collector may run inside a load
        store_gc = gc_paused
        import services.ledger.store as module

        module.gc_paused = nullcontext  # type: ignore[assignment]
    took = []
    for _ in range(300):
        began = time.perf_counter()
        store.load_with_head(LONG)
        took.append((time.perf_counter() - began) * 1000)
    if args.collector == "running":
        module.gc_paused = store_gc
    took.sort()
    (snapshot,) = store.snapshots.recorder.select_events(LONG, desc=True, limit=1)
    print(
        f"open packages {args.packages}, collector {args.collector}: snapshot "
        f"{len(snapshot.state)} bytes, load p50 {statistics.median(took):.2f} ms, "
        f"p99 {took[296]:.2f} ms (gc enabled: {gc.isenabled()})"
    )


if __name__ == "__main__":
    main()
