"""Fixtures for the projector's tests: the projector in this process, and readers of the
balances and alerts topics. Imported by the test modules that use them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier
from pydantic import BaseModel

from events.balances import BalanceAlert, BalanceUpdated
from projections.projector import Projector
from projections.settings import ProjectorSettings
from services.ledger.store import LedgerStore
from services.settings import Settings
from services.tail import TopicTail


def projector_settings(settings: Settings, **knobs: Any) -> ProjectorSettings:
    return ProjectorSettings(**settings.model_dump(), **knobs)


def logged(ledger: LedgerStore, account_id: str, version: int) -> int:
    """A placeholder event of ``account_id`` at ``version`` stored in the ledger's log, for a
    history line written by hand (an account's page finds its lines by its events): the
    event's position in the log."""
    recorder = ledger.ledger_recorder
    values = (account_id, version, "Placeholder", b"{}")
    with recorder.datastore.transaction(commit=True) as c:
        if isinstance(recorder.datastore, SQLiteDatastore):
            table = recorder.events_table_name
            c.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?) RETURNING rowid", values)
            return int(c.fetchone()[0])
        table = Identifier(recorder.datastore.schema, recorder.events_table_name)
        c.execute(
            SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s) RETURNING notification_id"
            ).format(table),
            values,
        )
        return int(c.fetchone()["notification_id"])


@asynccontextmanager
async def running_projector(settings: Settings, **knobs: Any) -> AsyncIterator[Projector]:
    """The projector in this process until the block ends (then stopped as by SIGTERM)."""
    projector = Projector(projector_settings(settings, **knobs))
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    try:
        started = asyncio.create_task(projector.started.wait())
        await asyncio.wait([task, started], timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert projector.started.is_set(), "the projector did not start"
        yield projector
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        projector.close()


class TopicReader:
    """Every record of a topic from its beginning, in partition order, read in the background."""

    def __init__(self, settings: Settings, role: str, model: type[BaseModel]) -> None:
        self.model = model
        self.records: list[tuple[int, int, Any]] = []  # (partition, offset, message)
        self._tail = TopicTail(settings, role, self._deliver, from_end=False, poll_ms=100)

    async def start(self) -> None:
        await self._tail.start()

    async def stop(self) -> None:
        await self._tail.stop()

    def _deliver(self, record: Any) -> None:
        message = self.model.model_validate_json(record.value)
        self.records.append((record.partition, record.offset, message))

    @property
    def messages(self) -> list[Any]:
        return [message for *_, message in self.records]

    async def until(self, done: Callable[[list[Any]], bool], timeout_s: float = 20) -> list[Any]:
        async with asyncio.timeout(timeout_s):
            while not done(self.messages):
                await asyncio.sleep(0.01)
        return self.messages

    def latest(self) -> dict[str, Any]:
        """The last record per key, as compaction keeps it."""
        last: dict[str, Any] = {}
        for _, _, message in sorted(self.records, key=lambda r: (r[0], r[1])):
            last[message.account_id] = message
        return last


@pytest.fixture
async def balances(store_settings: Settings) -> AsyncIterator[TopicReader]:
    reader = TopicReader(store_settings, "balances", BalanceUpdated)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture
async def alerts(store_settings: Settings) -> AsyncIterator[TopicReader]:
    reader = TopicReader(store_settings, "alerts", BalanceAlert)
    await reader.start()
    yield reader
    await reader.stop()


@pytest.fixture
async def projector(store_settings: Settings) -> AsyncIterator[Projector]:
    async with running_projector(store_settings) as running:
        yield running


async def caught_up(projector: Projector, timeout_s: float = 30) -> None:
    """Until the projector has folded everything the ledger has stored. (The ledger stores a
    command's events just after publishing its outcome: wait for ``folded`` after a decide.)"""
    async with asyncio.timeout(timeout_s):
        while await asyncio.to_thread(projector.model.lag):
            await asyncio.sleep(0.02)


async def folded(
    projector: Projector, account_id: str, version: int, timeout_s: float = 20
) -> None:
    """Until the read model has ``account_id`` at ``version`` (or later)."""
    async with asyncio.timeout(timeout_s):
        while True:
            view = await asyncio.to_thread(projector.model.get, account_id)
            if view is not None and view.version >= version:
                return
            await asyncio.sleep(0.02)
