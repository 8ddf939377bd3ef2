"""Ledger throughput: commands decided and stored per second, end to end through Kafka.

    .venv/bin/python -m benchmarks.ledger_throughput [--store sqlite|postgres] [--commands 20000]

Loads ``--commands`` commands over ``--accounts`` accounts (tests/workload.py) onto a fresh
commands topic, then starts the ledger and times it until every command's position is stored.
Prints the figures and writes them to benchmarks/results/ledger-throughput-<store>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from datetime import UTC, datetime

from benchmarks import report
from benchmarks.throwaway import throwaway
from services import kafka_clients
from services.ledger.__main__ import build
from services.settings import REPO, Settings
from services.topics import delete_topics, ensure_topics
from tests.workload import command_log


async def run(args: argparse.Namespace) -> dict[str, object]:
    with throwaway(args.store) as settings:
        return await _timed(args, settings)


async def _timed(args: argparse.Namespace, settings: Settings) -> dict[str, object]:
    await ensure_topics(settings)
    log = command_log(args.commands, args.accounts)
    producer = kafka_clients.producer(settings, linger_ms=20)
    await producer.start()
    for command in log:
        await producer.send(
            settings.topic["commands"],
            command.model_dump_json().encode(),
            key=command.account_id.encode(),
        )
    await producer.flush()
    await producer.stop()

    _, edge = build(settings)
    try:
        async with edge.broker:
            began = time.perf_counter()
            await edge.broker.start()
            while sum(edge.positions.values()) < len(log):
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - began
        events = sum(len(edge.ledger.store.stream(a)) for a in {c.account_id for c in log})
    finally:
        await edge.close()
        edge.ledger.store.close()
        await delete_topics(settings)
    return {
        "store": args.store,
        "commands": len(log),
        "accounts": args.accounts,
        "events_stored": events,
        "seconds_including_group_join": round(elapsed, 2),
        "commands_per_s": round(len(log) / elapsed),
        "batches": edge.batches_committed,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    results = asyncio.run(run(parser.parse_args()))
    report.written(
        results, REPO / "benchmarks" / "results" / f"ledger-throughput-{results['store']}.json"
    )


if __name__ == "__main__":
    main()
