"""Processes that start together on one PostgreSQL database create their tables in turn.

Every start runs the ``eventsourcing`` library's ``CREATE OR REPLACE FUNCTION`` for the events
table: two at once update the same catalogue row and one of them failed with "tuple
concurrently updated" (CI, the live-streams benchmark, whose lag check opened the ledger's
store while the ledger opened it). Two first starts of anything (a top-up process and its
standby, two API workers) both create the same table. Creating tables takes turns.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from projections.store import BalanceReadModel
from services.api.keys import StoredKeys
from services.api.settings import ApiSettings
from services.clock.lease import Lease
from services.ledger.store import LedgerStore
from services.settings import Settings
from services.topup.position import Position

STARTS = 8
ROUNDS = 4


@pytest.fixture
def schema_settings() -> Iterator[Settings]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings = Settings(event_store="postgres", postgres_schema=name)
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield settings
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def test_ledgers_and_projectors_starting_together_do_not_fail_with_tuple_concurrently_updated(
    schema_settings: Settings,
):
    def start(barrier: threading.Barrier) -> None:
        barrier.wait()
        ledger = LedgerStore(schema_settings)
        try:
            BalanceReadModel(ledger)
            Lease(ledger, holder="a clock", ttl_s=1.0)
            Position(ledger)
            StoredKeys(ApiSettings(**schema_settings.model_dump())).close()
        finally:
            ledger.close()

    for _ in range(ROUNDS):  # the first round creates the tables, the later ones find them
        barrier = threading.Barrier(STARTS)
        with ThreadPoolExecutor(STARTS) as pool:
            started = [pool.submit(start, barrier) for _ in range(STARTS)]
            for each in started:
                each.result()
