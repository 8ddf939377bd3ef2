"""Shared fixtures: a throwaway namespace on the real Kafka broker and PostgreSQL.

Integration tests never skip: if Kafka or PostgreSQL is down they fail, and say so.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from services.client import LedgerClient
from services.ledger.__main__ import build
from services.ledger.consumer import LedgerConsumer
from services.settings import Settings
from services.topics import delete_topics, ensure_topics

BACKENDS = ["sqlite", "postgres"]


def pytest_report_header() -> str:
    """Which form of the core and the folds these tests run: compiled or Python."""
    from projections import finance
    from services import native

    form = "compiled (mypyc)" if native.compiled(finance) else "Python"
    return f"kalema: the core and the folds run {form}; KALEMA_NATIVE=0 runs Python"


# Tests play time forward by stamping commands hours and days ahead of the broker's clock; the
# ledger's bound on that (KALEMA_LEDGER_MAX_CLOCK_SKEW_S) is proven where a test sets it back.
PLAYED_AHEAD_S = 400 * 86_400


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def settings(run_id: str) -> AsyncIterator[Settings]:
    """Settings whose topics live under a prefix of their own, created for this test run."""
    settings = Settings(topic_prefix=f"test.{run_id}", ledger_max_clock_skew_s=PLAYED_AHEAD_S)
    await ensure_topics(settings)
    yield settings
    await delete_topics(settings)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store_settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """Fresh event store (a SQLite file, or a PostgreSQL schema) and fresh topics per test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        topic_prefix=f"test.{name}",
        event_store=backend,  # type: ignore[arg-type]
        sqlite_path=tmp_path / "ledger.sqlite",
        postgres_schema=name,
        ledger_group_id=f"ledger-{name}",
        ledger_max_clock_skew_s=PLAYED_AHEAD_S,
    )
    if backend == "postgres":
        with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    await ensure_topics(settings)
    yield settings
    await delete_topics(settings)
    if backend == "postgres":
        with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@asynccontextmanager
async def running_ledger(settings: Settings) -> AsyncIterator[LedgerConsumer]:
    """The ledger service in this process, with every commands partition assigned."""
    _, edge = build(settings)
    try:
        async with edge.broker:
            await edge.broker.start()
            async with asyncio.timeout(30):
                while len(edge.positions) < 8:
                    await asyncio.sleep(0.05)
            yield edge
    finally:
        await edge.close()
        edge.ledger.store.close()


@pytest.fixture
async def ledger(store_settings: Settings) -> AsyncIterator[LedgerConsumer]:
    async with running_ledger(store_settings) as edge:
        yield edge


@pytest.fixture
async def client(store_settings: Settings) -> AsyncIterator[LedgerClient]:
    async with LedgerClient(store_settings, timeout_s=20) as client:
        yield client
