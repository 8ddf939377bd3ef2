"""Crash safety of the projector: the process is killed with SIGKILL twice while it folds a
stream of 1,500 commands, and restarted. Afterwards the read model equals the core's replay
(nothing skipped, nothing folded twice), and on the balances topic a version that was
published twice (at-least-once: published, killed before the commit) is the same message."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from projections import maintenance
from projections.store import BalanceReadModel, message_of
from services.ledger.store import LedgerStore
from services.settings import REPO
from tests.integration.conftest_projections import projector_settings
from tests.integration.test_projector import consumed, send_steadily
from tests.workload import command_log

COMMANDS, ACCOUNTS = 1_500, 50


def start_projector(settings) -> subprocess.Popen:
    env = os.environ | {
        "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
        "KALEMA_PROJECTOR_BATCH_MAX_EVENTS": "20",  # many small commits to land a kill between
    }
    return subprocess.Popen(
        [sys.executable, "-m", "projections"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def until_position(model, at_least: int, process, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while (position := await asyncio.to_thread(model.position)) < at_least:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, f"only at {position} of {at_least}"
        await asyncio.sleep(0.01)
    return position


async def test_killing_the_projector_twice_mid_stream_skips_nothing_and_folds_nothing_twice(
    store_settings, ledger, client, balances
):
    log = command_log(COMMANDS, ACCOUNTS, seed=13)
    producing = asyncio.create_task(send_steadily(client, log))
    store = LedgerStore(store_settings)
    model = BalanceReadModel(store)
    kills = []
    try:
        for threshold in (300, 900):
            process = start_projector(store_settings)
            await until_position(model, threshold, process)
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills.append(await asyncio.to_thread(model.position))
        process = start_projector(store_settings)
        await producing
        await consumed(ledger, len(log))
        total = store.recorder.max_notification_id()
        await until_position(model, total, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        _, rows = model.snapshot()
    finally:
        store.close()
        if process.poll() is None:
            process.kill()

    assert all(kill < total for kill in kills), (kills, total)  # the kills were mid-stream
    assert maintenance.check(projector_settings(store_settings)) == (total, [])
    stored = {row["account_id"]: message_of(row) for row in rows}
    await balances.until(lambda _: balances.latest() == stored)
    first: dict = {}
    for update in balances.messages:
        key = (update.account_id, update.version)
        assert first.setdefault(key, update) == update, key  # a repeat is the same message
