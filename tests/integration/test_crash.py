"""Crash safety: the ledger process is killed with SIGKILL in the middle of a stream of 5,000
commands over 200 accounts, twice, and restarted. Afterwards every account's stored events
equal what the pure core decides from the same command log: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from aiokafka import AIOKafkaProducer

from reliability.verdict import oracle
from services.ledger.store import LedgerStore
from services.settings import REPO, Settings
from tests.workload import command_log

COMMANDS, ACCOUNTS, PARTITIONS = 5_000, 200, 8


def start_ledger(settings: Settings) -> subprocess.Popen:
    env = {
        **os.environ,
        **{
            f"KALEMA_{k.upper()}": str(v)
            for k, v in {
                "topic_prefix": settings.topic_prefix,
                "event_store": settings.event_store,
                "sqlite_path": settings.sqlite_path,
                "postgres_schema": settings.postgres_schema,
                "ledger_group_id": settings.ledger_group_id,
                "ledger_session_timeout_ms": 6000,
                "ledger_batch_max_records": 100,
            }.items()
        },
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.ledger"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def consumed(store: LedgerStore, settings: Settings) -> int:
    topic = settings.topic["commands"]
    return sum(store.position(f"{topic}:{p}") or 0 for p in range(PARTITIONS))


async def until_consumed(store, settings, at_least: int, process, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while (done := await asyncio.to_thread(consumed, store, settings)) < at_least:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, f"only {done} of {at_least} consumed"
        await asyncio.sleep(0.05)
    return done


async def test_killing_the_ledger_twice_mid_stream_loses_nothing_and_applies_nothing_twice(
    store_settings,
):
    log = command_log(COMMANDS, ACCOUNTS)
    producer = AIOKafkaProducer(
        bootstrap_servers=store_settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )
    await producer.start()

    async def produce() -> None:
        for n, command in enumerate(log):
            await producer.send(
                store_settings.topic["commands"],
                command.model_dump_json().encode(),
                key=command.account_id.encode(),
            )
            if n % 250 == 249:
                await producer.flush()
                await asyncio.sleep(0.1)  # a steady stream, so the kills land mid-way
        await producer.flush()

    producing = asyncio.create_task(produce())
    store = LedgerStore(store_settings)
    kills = []
    try:
        for threshold in (1_000, 2_500):
            ledger = start_ledger(store_settings)
            await until_consumed(store, store_settings, threshold, ledger)
            ledger.send_signal(signal.SIGKILL)
            ledger.wait()
            kills.append(await asyncio.to_thread(consumed, store, store_settings))
        ledger = start_ledger(store_settings)
        await producing
        await until_consumed(store, store_settings, COMMANDS, ledger)
        ledger.send_signal(signal.SIGTERM)
        assert ledger.wait(timeout=40) == 0
    finally:
        await producer.stop()
        for process in [ledger]:
            if process.poll() is None:
                process.kill()

    assert all(kill < COMMANDS for kill in kills), kills  # the kills really were mid-stream
    expected = oracle(log)
    for account, events in expected.items():
        stored = [r.event for r in store.stream(account)]
        assert stored == events, account
    store.close()
