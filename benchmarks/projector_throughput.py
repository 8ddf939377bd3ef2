"""Projector throughput: stored events folded into the read model and published, per second.

    .venv/bin/python -m benchmarks.projector_throughput [--store sqlite|postgres]
        [--commands 210000] [--accounts 10000]

Stores ``--commands`` commands over ``--accounts`` accounts (tests/workload.py, decided and
committed through the ledger's own batch path, no Kafka), about 200,000 events with the
defaults. Then starts the projector in a fresh process (so its peak RSS is its own) and times
it, start-up included, until the read model's position reaches the last stored event: every
event folded, its history row and balance row committed, and every changed balance published
to the real broker and acknowledged (the projector publishes before it commits). Afterwards
the balances topic is read back: the latest ``BalanceUpdated`` of every account must carry
its stream's version. On a busy machine the projector's CPU seconds (and events per CPU
second) compare runs better than the wall clock. Prints the figures and writes them to
benchmarks/results/projector_throughput.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord

from benchmarks import report
from benchmarks.long_account import load
from benchmarks.throwaway import throwaway
from events.balances import BalanceUpdated
from projections.projector import Projector
from projections.settings import ProjectorSettings
from services.ledger.catalog_file import load_catalog
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import REPO
from services.tail import TopicTail
from services.topics import delete_topics, ensure_topics
from tests.workload import command_log


def main() -> None:
    args = _arguments()
    with throwaway(args.store, ProjectorSettings) as settings:
        versions = _stored(settings, args)
        asyncio.run(ensure_topics(settings))
        try:
            timed = _projected_in_a_process(settings, args.batch)
            published = asyncio.run(_published(settings, versions))
        finally:
            asyncio.run(delete_topics(settings))
    events = sum(versions.values())
    results = {
        "store": args.store,
        "commands": args.commands,
        "accounts": len(versions),
        "events": events,
        "batch_max_events": args.batch,
        "seconds_including_start": round(timed["seconds"], 2),
        "events_per_s": round(events / timed["seconds"]),
        "balances_published": published,
        "balances_per_s": round(published / timed["seconds"]),
        "batches": timed["batches"],
        "projector_cpu_s": round(timed["cpu_s"], 2),
        "events_per_cpu_s": round(events / timed["cpu_s"]),
        "projector_max_rss_mb": timed["max_rss_mb"],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    report.written(
        results, args.out or REPO / "benchmarks" / "results" / "projector_throughput.json"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--commands", type=int, default=210_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=ProjectorSettings().projector_batch_max_events)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    return parser.parse_args()


def _stored(settings: ProjectorSettings, args: argparse.Namespace) -> dict[str, int]:
    """Decide and store the workload; returns every account's stream version."""
    store = LedgerStore(settings)
    try:
        ledger = Ledger(store, load_catalog(), max_message_bytes=settings.max_message_bytes)
        log = command_log(args.commands, args.accounts)
        load(ledger, iter(log), len(log), "storing the ledger's events")
        return {account: store.load(account).version for account in {c.account_id for c in log}}
    finally:
        store.close()


def _projected_in_a_process(settings: ProjectorSettings, batch: int) -> dict[str, Any]:
    fields = settings.model_dump() | {"projector_batch_max_events": batch}
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(_project, (fields,))
    return result


def _project(fields: dict[str, Any]) -> dict[str, Any]:
    """In the projector's own process: catch up with the whole log, timed."""
    return asyncio.run(_catch_up(ProjectorSettings(**fields)))


async def _catch_up(settings: ProjectorSettings) -> dict[str, Any]:
    began, cpu_began = time.perf_counter(), time.process_time()
    projector = Projector(settings)
    last = projector.ledger.recorder.max_notification_id() or 0
    stop = asyncio.Event()
    running = asyncio.create_task(projector.run(stop))
    try:
        while projector.position < last:
            if running.done():
                running.result()  # raises what stopped it
                raise RuntimeError("the projector stopped before catching up")
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - began
        cpu_s = time.process_time() - cpu_began
    finally:
        stop.set()
        await running
        projector.close()
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "batches": projector.batches_committed,
        "max_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> int:
    """This process's peak resident memory. Linux keeps ``ru_maxrss`` across exec (it would
    be the benchmark parent's peak, with the store's setup in it); ``VmHWM`` is this process's
    own address space's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


async def _published(settings: ProjectorSettings, versions: dict[str, int]) -> int:
    """Read the balances topic back; returns how many updates it holds, after checking that
    every account's latest one carries its stream's version."""
    latest: dict[str, int] = {}
    count = 0

    def deliver(record: ConsumerRecord[Any, Any]) -> None:
        nonlocal count
        update = BalanceUpdated.model_validate_json(record.value)
        latest[update.account_id] = max(latest.get(update.account_id, 0), update.version)
        count += 1

    tail = TopicTail(settings, "balances", deliver, from_end=False)
    await tail.open()
    try:
        partitions = list(tail.consumer.assignment())
        ends = await tail.consumer.end_offsets(partitions)
        tail.read()
        while [tp for tp in partitions if await tail.consumer.position(tp) < ends[tp]]:
            await asyncio.sleep(0.05)
    finally:
        await tail.stop()
    assert latest == versions, "the balances topic does not end at every account's version"
    return count


if __name__ == "__main__":
    main()
