"""AI workers at scale (issue 15): 16 concurrent ``LedgerClient`` instances, each reading only
its own reply partitions.

    .venv/bin/python -m benchmarks.clients [--store postgres] [--clients 16] [--commands 1000]
                                           [--in-flight 20] [--accounts 20]

Starts the ledger as its own process in a throwaway namespace (as ``make run`` does), opens
``--clients`` clients in this process, and lets each open ``--accounts`` accounts of its own
(not timed), then submit ``--commands`` tool uses with up to ``--in-flight`` waiting at once.
Reports commands/s over all clients (first submit to last outcome), each ``submit``'s time to
its outcome (p50/p95/p99/max), and the outcomes each client read: only its own (before reply
partitions, every client read every client's outcomes). Writes
benchmarks/results/clients.json (one entry per store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import report
from benchmarks.balance_latency import start_processes, stop_processes
from benchmarks.throwaway import throwaway
from events.commands import CycleRenewed, UseTool
from projections.settings import ProjectorSettings
from services.client import LedgerClient
from services.settings import REPO
from services.topics import delete_topics, ensure_topics
from tests.workload import START

RESULTS = REPO / "benchmarks" / "results" / "clients.json"


async def work(client: LedgerClient, n: int, args: argparse.Namespace) -> list[float]:
    """One worker: open its accounts, then its uses, each submit timed to its outcome."""
    accounts = [f"w{n:02d}-acct-{a:03d}" for a in range(args.accounts)]
    await asyncio.gather(
        *(
            client.execute(
                CycleRenewed(
                    command_id=f"{account}-plan",
                    account_id=account,
                    occurred_at=START,
                    plan="agency",
                    cycle_start=START,
                    cycle_end=START + timedelta(days=30),
                )
            )
            for account in accounts
        )
    )
    slots, took = asyncio.Semaphore(args.in_flight), []

    async def use(k: int) -> None:
        account = accounts[k % len(accounts)]
        async with slots:
            began = time.monotonic()
            await client.execute(
                UseTool(
                    command_id=f"{account}-use-{k}",
                    account_id=account,
                    occurred_at=START,
                    tool="keyword_suggestions",
                )
            )
            took.append(time.monotonic() - began)

    await asyncio.gather(*(use(k) for k in range(args.commands)))
    return took


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with throwaway(args.store, ProjectorSettings) as settings:
        await ensure_topics(settings)
        processes = start_processes(settings, ("services.ledger",))
        clients = [LedgerClient(settings, timeout_s=60) for _ in range(args.clients)]
        try:
            await asyncio.gather(*(c.start() for c in clients))
            opened = [c.outcomes_read for c in clients]
            began = time.monotonic()
            took = await asyncio.gather(*(work(c, n, args) for n, c in enumerate(clients)))
            elapsed = time.monotonic() - began
            read = [c.outcomes_read - before for c, before in zip(clients, opened, strict=True)]
        finally:
            await asyncio.gather(*(c.stop() for c in clients), return_exceptions=True)
            stop_processes(processes)
            await delete_topics(settings)
    each = args.accounts + args.commands  # outcomes a client asked for
    return {
        "store": args.store,
        "clients": args.clients,
        "commands_per_client": args.commands,
        "in_flight_per_client": args.in_flight,
        "commands_per_s": round(args.clients * each / elapsed),
        "submit_to_outcome": report.percentiles([t for per in took for t in per]),
        "outcomes_read_per_client": {"min": min(read), "max": max(read), "asked": each},
        "outcomes_every_client_read_before_reply_partitions": args.clients * each,
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--commands", type=int, default=1000, help="tool uses per client")
    parser.add_argument("--in-flight", type=int, default=20, help="per client")
    parser.add_argument("--accounts", type=int, default=20, help="per client")
    results = asyncio.run(run(parser.parse_args()))
    print(json.dumps(results, indent=2))
    found = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    found[results["store"]] = results
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
