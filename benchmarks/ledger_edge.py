"""What the ledger's consumer does per batch beyond deciding and storing it, for the parts that
need no broker: the chain-head checkpoints (one per account the batch changed: built, signed
when the chain is keyed, encoded) and the batch's metrics. In one process, no Kafka.

    .venv/bin/python -m benchmarks.ledger_edge [--commands 20000] [--accounts 10000]
        [--passes 7] [--out PATH]

The workload (tests/workload.py) is decided and committed in the ledger's batches as
``benchmarks.hot_path`` does, on a throwaway SQLite store; then each pass times, with
``time.process_time``, what ``LedgerConsumer`` does after a commit: ``checkpoints.heads`` and
``checkpoints.messages`` unkeyed and under a chain key, and ``metrics.committed``. Printed: the
median pass in µs per command; the same written to benchmarks/results/ledger-edge.json (or
``--out``). End to end, the ledger spends about 30 µs a command at its Kafka edge
(BENCHMARKS.md, issue 26); this measures the part of it that runs without a broker.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.hot_path import BATCH, workload_records
from benchmarks.throwaway import throwaway
from services.ledger import checkpoints, metrics
from services.ledger.catalog_file import load_catalog
from services.ledger.chain import SigningKey
from services.ledger.ledger import Batch, Ledger
from services.ledger.store import LedgerStore
from services.publish import Message
from services.settings import REPO, Settings

KEY = ("bench", b"a chain key for the benchmark")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args()
    batches = decided(args.commands, args.accounts)
    commands = sum(len(batch.outcomes) for batch in batches)
    steps: dict[str, Callable[[Batch], Any]] = {
        "checkpoints_unkeyed": lambda b: heads_written(b, None),
        "checkpoints_keyed": lambda b: heads_written(b, KEY),
        "metrics": lambda b: metrics.committed(b, len(b.outcomes), 0.0, 0.01, 0.02, 0.03),
    }
    figures = {
        name: median_us(batches, step, args.passes) / commands for name, step in steps.items()
    }
    for name, us in figures.items():
        print(f"{name}: {us:.2f} µs a command (median pass)")
    results = {
        "commands": commands,
        "batches": len(batches),
        **{f"{name}_us_per_command": round(us, 2) for name, us in figures.items()},
        "passes": args.passes,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report.written(results, args.out or REPO / "benchmarks" / "results" / "ledger-edge.json")


def heads_written(batch: Batch, key: SigningKey | None) -> list[Message]:
    """The batch's chain-head checkpoints as the consumer publishes them."""
    return checkpoints.messages("chain-heads", checkpoints.heads(batch.recorded, key))


def decided(commands: int, accounts: int) -> list[Batch]:
    """The workload decided and committed in the consumer's batches, each kept."""
    records = workload_records(commands, accounts)
    with throwaway("sqlite", Settings) as settings:
        store = LedgerStore(settings)
        try:
            ledger = Ledger(store, load_catalog(), max_message_bytes=settings.max_message_bytes)
            batches = []
            for n in range(0, len(records), BATCH):
                batch = ledger.decide_batch(records[n : n + BATCH])
                ledger.commit(batch)
                batches.append(batch)
        finally:
            store.close()
    return batches


def median_us(batches: Sequence[Batch], step: Callable[[Batch], Any], passes: int) -> float:
    """The median of ``passes`` timed runs of ``step`` over every batch, in µs (CPU time)."""
    times = []
    gc.collect()
    for _ in range(passes):
        began = time.process_time()
        for batch in batches:
            step(batch)
        times.append(time.process_time() - began)
    return statistics.median(times) * 1e6


if __name__ == "__main__":
    main()
