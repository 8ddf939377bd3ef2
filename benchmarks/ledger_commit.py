"""What the ledger's commit of one batch costs, by the batch's size: the wall time, the ledger's
CPU and PostgreSQL's, per batch, in one process and without Kafka.

    .venv/bin/python -m benchmarks.ledger_commit [--store postgres|sqlite] [--sizes 10,100,500]
        [--partitions 8] [--batches 50] [--rounds 5] [--out PATH]

At a steady rate the running ledger commits many small batches (tens of commands at 2,000
commands/s, where a flood fills 500), each from up to ``--partitions`` partitions, so what a
commit costs whatever its size (round trips, syncs, positions) weighs on every command. For
each size, ``--rounds`` rounds of ``--batches`` batches of the workload's commands
(``tests/workload.py``, spread over the partitions as ``benchmarks.hot_path`` spreads them):
each batch is decided untimed, then ``Ledger.commit`` is timed. Medians of the rounds. On
PostgreSQL the CPU of every ``postgres`` process over the commits is counted too: run it on an
idle machine. Compare two commits by running this script in a worktree of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.hot_path import postgres_cpu_s, workload_records
from benchmarks.throwaway import throwaway
from events.topics import COMMANDS
from services.ledger.catalog_file import load_catalog
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import REPO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--sizes", default="10,100,500", help="commands a batch, comma-separated")
    parser.add_argument("--partitions", type=int, default=COMMANDS.partitions)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results = {
        "store": args.store,
        "partitions": args.partitions,
        "batches": args.batches,
        "rounds": args.rounds,
        "by_size": {str(size): _size(args, size) for size in sizes},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report.written(results, args.out or REPO / "benchmarks" / "results" / "ledger-commit.json")


def _size(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Medians of the rounds for batches of ``size`` commands, each round in a fresh store."""
    rounds = [_round(args, size) for _ in range(args.rounds)]
    return {
        name: statistics.median(r[name] for r in rounds)
        for name in rounds[0]
        if rounds[0][name] is not None
    } | {"rounds": rounds}


def _round(args: argparse.Namespace, size: int) -> dict[str, float | None]:
    accounts = size * args.batches  # each command of a round for an account of its own
    on_postgres = args.store == "postgres"
    with throwaway(args.store) as settings:
        records = workload_records(accounts * 2, accounts, args.partitions)
        store = LedgerStore(settings)
        try:
            ledger = Ledger(store, load_catalog(), max_message_bytes=settings.max_message_bytes)
            for n in range(0, accounts, 500):  # every account opened, untimed
                ledger.commit(ledger.decide_batch(records[n : min(n + 500, accounts)]))
            timed = records[accounts:]
            wall = cpu = database = 0.0
            for n in range(0, len(timed), size):
                batch = ledger.decide_batch(timed[n : n + size])
                before = postgres_cpu_s() if on_postgres else 0.0
                wall_began, cpu_began = time.perf_counter(), time.process_time()
                ledger.commit(batch)
                cpu += time.process_time() - cpu_began
                wall += time.perf_counter() - wall_began
                if on_postgres:
                    database += postgres_cpu_s() - before
        finally:
            store.close()
    batches = len(range(0, len(timed), size))
    return {
        "commit_wall_ms": round(wall / batches * 1000, 2),
        "commit_cpu_ms": round(cpu / batches * 1000, 2),
        "postgres_cpu_ms": round(database / batches * 1000, 2) if on_postgres else None,
    }


if __name__ == "__main__":
    main()
