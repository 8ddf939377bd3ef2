"""What the API's handlers talk to, as small interfaces, and the real ones behind them.

``Reads``: the balance read model and its history (blocking database calls, run in
threads). ``Submits``: the ledger over Kafka (``LedgerClient``). Unit tests pass fakes of both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from events.commands import Command
from events.outcomes import Outcome
from projections.balance import BalanceView
from projections.finance_report import Report, report
from projections.history import Row
from projections.store import open_read_model
from services.api.feed import BalanceFeed
from services.api.hub import BalanceHub
from services.api.keys import KeyStore, StoredKeys
from services.api.settings import ApiSettings
from services.client import LedgerClient
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Catalog
from services.topics import ensure_topics

log = logging.getLogger("kalema.api")


UsageRow = tuple[str, str, int, int]  # (day YYYY-MM-DD, tool, uses, credits)


class Reads(Protocol):
    async def view(self, account_id: str) -> BalanceView | None: ...
    async def views(self, account_ids: list[str]) -> dict[str, BalanceView]: ...
    async def history(self, account_id: str, upto: int, offset: int, limit: int) -> list[Row]: ...
    async def usage(self, account_id: str, first: date, last: date) -> list[UsageRow]: ...
    async def finance(self, first: str, last: str) -> Report: ...


class Submits(Protocol):
    async def submit(self, command: Command) -> Outcome: ...


@dataclass(frozen=True)
class Ports:
    reads: Reads
    ledger: Submits
    hub: BalanceHub
    catalog: Catalog
    keys: KeyStore | None = None
    """Where idempotency keys are bound to their request (None: the process's memory)."""


class StoreReads:
    """The read model and the ledger's store, in the ledger's own database."""

    def __init__(self, settings: ApiSettings) -> None:
        self.store, self.model = open_read_model(settings)

    async def view(self, account_id: str) -> BalanceView | None:
        return await asyncio.to_thread(self.model.get, account_id)

    async def views(self, account_ids: list[str]) -> dict[str, BalanceView]:
        """The rows of many accounts in one query (per 500); one that cannot be read is left
        out (its stream answers 404, as for an account not opened) and logged."""
        found, unreadable = await asyncio.to_thread(self.model.entries, account_ids)
        for account_id, reason in unreadable.items():
            log.error("the read model's row of %s cannot be read: %s", account_id, reason)
        return {account_id: entry.view for account_id, entry in found.items()}

    async def history(self, account_id: str, upto: int, offset: int, limit: int) -> list[Row]:
        """A page of the account's history up to version ``upto``, newest first."""
        return await asyncio.to_thread(self.model.history, account_id, upto, offset, limit)

    async def usage(self, account_id: str, first: date, last: date) -> list[UsageRow]:
        """The account's credits used per day and tool from ``first`` to ``last``."""
        days = (first.isoformat(), last.isoformat())
        return await asyncio.to_thread(self.model.recorder.usage, account_id, *days)

    async def finance(self, first: str, last: str) -> Report:
        """The finance report from month ``first`` to ``last``, from the stored months."""

        def read() -> Report:
            return report(self.model.recorder.periods(last), first, last)

        return await asyncio.to_thread(read)

    def close(self) -> None:
        self.store.close()


@asynccontextmanager
async def real_ports(settings: ApiSettings) -> AsyncIterator[Ports]:
    """The store, the ledger client and the balances feed, until the block ends."""
    await ensure_topics(settings)
    async with AsyncExitStack() as stack:
        reads = await asyncio.to_thread(StoreReads, settings)
        stack.callback(reads.close)
        keys = await asyncio.to_thread(StoredKeys, settings)
        stack.callback(keys.close)
        ledger = LedgerClient(settings, timeout_s=settings.api_ledger_timeout_s)
        await stack.enter_async_context(ledger)
        recent, beat_s = settings.api_stream_recent_accounts, settings.api_stream_heartbeat_s
        hub = BalanceHub(recent, reads, beat_s)
        feed = BalanceFeed(settings, hub)
        await feed.start()
        stack.push_async_callback(feed.stop)
        stack.callback(hub.close)
        yield Ports(reads=reads, ledger=ledger, hub=hub, catalog=load_catalog(), keys=keys)
