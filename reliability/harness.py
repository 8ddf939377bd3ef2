"""What both runs need: a namespace of their own (topics, a SQLite file or a PostgreSQL
schema), the ledger and projector as real processes, and readers of whole topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg

from services import kafka_clients
from services.settings import REPO, Settings
from services.topics import delete_topics, ensure_topics


@asynccontextmanager
async def namespace(store: str, workdir: Path, **knobs: Any) -> AsyncIterator[Settings]:
    """Fresh topics and a fresh event store, removed afterwards."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        topic_prefix=f"reliability.{name}",
        event_store=store,  # type: ignore[arg-type]
        sqlite_path=workdir / f"{name}.sqlite",
        postgres_schema=name,
        ledger_group_id=f"ledger-{name}",
        **knobs,
    )
    if store == "postgres":
        with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    await ensure_topics(settings)
    try:
        yield settings
    finally:
        with contextlib.suppress(Exception):
            await delete_topics(settings)
        if store == "postgres":
            with (
                contextlib.suppress(Exception),
                psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn,
            ):
                conn.execute(f"DROP SCHEMA {name} CASCADE")


def environment(settings: Settings, **extra: Any) -> dict[str, str]:
    """The environment that makes a deployable use ``settings`` (only settings read it)."""
    values = {
        "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
        "topic_prefix": settings.topic_prefix,
        "event_store": settings.event_store,
        "sqlite_path": settings.sqlite_path,
        "postgres_host": settings.postgres_host,
        "postgres_port": settings.postgres_port,
        "postgres_schema": settings.postgres_schema,
        "ledger_group_id": settings.ledger_group_id,
        **extra,
    }
    return {**os.environ, **{f"KALEMA_{k.upper()}": str(v) for k, v in values.items()}}


def start(module: str, settings: Settings, log: Path, **extra: Any) -> subprocess.Popen[bytes]:
    """``python -m module`` with these settings, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO,
            env=environment(settings, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


OUTCOMES = ("outcomes", "replies")
"""Every outcome is on one of these: on replies when its command asked for a reply."""


async def read_topic(
    settings: Settings,
    role: str | tuple[str, ...],
    until: Any = None,
    quiet_s: float = 3.0,
    timeout_s: float = 300,
) -> list[Any]:
    """Every record of a topic (or of several: ``OUTCOMES``) from its beginning: until
    ``until(records)`` holds, or nothing new came for ``quiet_s``, or ``timeout_s`` passed."""
    roles = (role,) if isinstance(role, str) else role
    consumer = kafka_clients.consumer(
        settings,
        *(settings.topic[r] for r in roles),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline, last_new = loop.time() + timeout_s, loop.time()
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            new = [r for records in batch.values() for r in records]
            found += new
            if new:
                last_new = loop.time()
            if until is not None and until(found):
                break
            if until is None and loop.time() - last_new > quiet_s:
                break
    finally:
        await consumer.stop()
    return found
