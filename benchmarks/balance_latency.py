"""Balance latency: the delay from a command's outcome to its balance on the balances topic.

    .venv/bin/python -m benchmarks.balance_latency [--store sqlite|postgres] [--rate 20]
                                                   [--seconds 30] [--accounts 40]

Starts the ledger and the projector as their own processes (as ``make run`` does) on the real
broker, in a namespace of their own (topics under a fresh prefix, a fresh SQLite file or
PostgreSQL schema). Every account is opened first (not measured); then commands from
``tests/workload.py`` are sent at ``--rate`` per second through ``LedgerClient``, each without
waiting for the one before. For each command the delay runs from receiving its outcome to
receiving a ``BalanceUpdated`` of its account with ``version >= outcome.stream_version``; a
balance that arrives first counts as 0. Repeats (``repeat: true``) change nothing and are not
measured. Prints p50/p90/p99/max and writes them to benchmarks/results/balance_latency.json
(one entry per store).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import orjson

from benchmarks.throwaway import throwaway
from events.commands import Command
from projections import maintenance
from projections.settings import ProjectorSettings
from services.client import LedgerClient
from services.settings import REPO
from services.tail import TopicTail
from services.topics import delete_topics, ensure_topics
from tests.workload import command_log

RESULTS = REPO / "benchmarks" / "results" / "balance_latency.json"


class Balances:
    """Reads the balances topic and notes when each account's versions arrive."""

    def __init__(self, settings: ProjectorSettings) -> None:
        self.tail = TopicTail(settings, "balances", self._arrived, from_end=False, poll_ms=200)
        self.arrived: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        self.waiting: dict[str, list[tuple[int, asyncio.Future[float]]]] = defaultdict(list)

    async def start(self) -> None:
        await self.tail.start()

    async def stop(self) -> None:
        await self.tail.stop()

    def _arrived(self, record: Any) -> None:
        """Read with orjson, for the two fields it needs: validating every ``BalanceUpdated``
        with pydantic was about 7 % of the end-to-end harness's CPU in the flood (py-spy),
        taken from the processes it measures on the same cores. The contract tests hold the
        messages to their schema."""
        now = time.monotonic()
        update = orjson.loads(record.value)
        account_id, seen = update["account_id"], update["version"]
        stamped = record.timestamp / 1000  # when the projector published it (its clock)
        self.arrived[account_id].append((seen, now, stamped))
        still = []
        for version, future in self.waiting[account_id]:
            if seen >= version and not future.done():
                future.set_result(now)
            elif not future.done():
                still.append((version, future))
        self.waiting[account_id] = still

    def at(self, account_id: str, version: int) -> asyncio.Future[float]:
        """When an update of ``account_id`` at ``version`` or later arrived (or will)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        for seen, when, _ in self.arrived[account_id]:
            if seen >= version:
                future.set_result(when)
                return future
        self.waiting[account_id].append((version, future))
        return future

    def stamped(self, account_id: str, version: int) -> float | None:
        """The record time (``time.time``) of the first update of ``account_id`` at
        ``version`` or later that arrived."""
        return next((s for seen, _, s in self.arrived[account_id] if seen >= version), None)


async def measure(
    client: LedgerClient, balances: Balances, command: Command, delays: list[float]
) -> None:
    outcome = await client.submit(command)
    received = time.monotonic()
    if outcome.repeat or outcome.stream_version is None:
        return
    async with asyncio.timeout(30):
        arrived = await balances.at(outcome.account_id, outcome.stream_version)
    delays.append(max(0.0, arrived - received))


async def bench(settings: ProjectorSettings, rate: float, seconds: float, accounts: int) -> dict:
    log = command_log(accounts + int(rate * seconds), accounts, seed=42)
    opening, measured = log[:accounts], log[accounts:]
    processes = start_processes(settings)
    balances = Balances(settings)
    await balances.start()
    try:
        async with LedgerClient(settings, timeout_s=30) as client:
            await asyncio.gather(*(measure(client, balances, c, []) for c in opening))
            delays: list[float] = []
            began, tasks = time.monotonic(), []
            for n, command in enumerate(measured):
                await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
                tasks.append(asyncio.create_task(measure(client, balances, command, delays)))
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - began
        lag = maintenance.lag(settings)  # published before committed: give the commit a moment
        for _ in range(50):
            if not lag:
                break
            await asyncio.sleep(0.1)
            lag = maintenance.lag(settings)
    finally:
        await balances.stop()
        stop_processes(processes)
    return summary(delays, len(measured), elapsed, lag, settings, rate)


def summary(delays, sent, elapsed, lag, settings, rate) -> dict:
    ordered = sorted(delays)

    def pct(p: float) -> float:
        return round(1000 * ordered[max(0, math.ceil(p * len(ordered)) - 1)], 1)

    return {
        "store": settings.event_store,
        "commands_sent": sent,
        "commands_measured": len(ordered),
        "rate_per_s": rate,
        "seconds": round(elapsed, 1),
        "latency_ms_p50": pct(0.50),
        "latency_ms_p90": pct(0.90),
        "latency_ms_p99": pct(0.99),
        "latency_ms_max": round(1000 * ordered[-1], 1),
        "latency_ms_mean": round(1000 * sum(ordered) / len(ordered), 1),
        "lag_events_after": lag,
        "projector_wakeup": (
            f"poll every {settings.projector_poll_interval_ms} ms"
            if settings.event_store == "sqlite"
            else "LISTEN/NOTIFY"
        ),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def start_processes(
    settings: ProjectorSettings,
    modules: tuple[str, ...] = ("services.ledger", "projections"),
    env: dict[str, str] | None = None,
) -> list[subprocess.Popen]:
    """``modules`` as their own processes in the settings' namespace (a module named twice
    runs twice: two ledgers share the commands topic's partitions through their group)."""
    env = (
        os.environ
        | {
            "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
            "KALEMA_EVENT_STORE": settings.event_store,
            "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
            "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
            "KALEMA_LEDGER_GROUP_ID": settings.ledger_group_id,
        }
        | (env or {})
    )
    logs = settings.sqlite_path.parent
    return [
        subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(logs / f"{module}-{n}.log", "w"),  # the child's now
        )
        for n, module in enumerate(modules)
    ]


def stop_processes(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        code = process.wait(timeout=60)
        if code != 0:
            print(f"{process.args[-1]} exited with {code}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--accounts", type=int, default=40)
    args = parser.parse_args()

    with throwaway(args.store, ProjectorSettings) as settings:
        asyncio.run(ensure_topics(settings))
        try:
            result = asyncio.run(bench(settings, args.rate, args.seconds, args.accounts))
        finally:
            asyncio.run(delete_topics(settings))
    print(json.dumps(result, indent=2))
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(previous | {args.store: result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
