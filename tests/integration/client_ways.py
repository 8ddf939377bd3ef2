"""The client's tests run one body over both ways in: the async ``LedgerClient`` and the
``SyncLedgerClient`` (``either``). Test modules import the fixture from here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from events.commands import BuyPackage
from events.outcomes import Outcome
from services.client import LedgerClient
from services.client.sync_client import SyncHoldHandle, SyncLedgerClient
from services.settings import Settings

WAYS = ["async", "sync"]


@pytest.fixture(params=WAYS)
async def either(request: pytest.FixtureRequest, store_settings: Settings) -> AsyncIterator[Any]:
    """The async client, or the sync one behind an async face (its calls in a thread)."""
    async with open_client(request.param, store_settings, timeout_s=20) as client:
        yield client


@asynccontextmanager
async def open_client(way: str, settings: Settings, **options: Any) -> AsyncIterator[Any]:
    if way == "async":
        async with LedgerClient(settings, **options) as client:
            yield client
        return
    sync = SyncLedgerClient(settings, **options)
    await asyncio.to_thread(sync.start)
    try:
        yield SyncAsAsync(sync)
    finally:
        await asyncio.to_thread(sync.stop)


class SyncAsAsync:
    """The sync client's calls, each run in a thread, so that one async test body drives both."""

    def __init__(self, sync: SyncLedgerClient) -> None:
        self.sync = sync

    @property
    def retried(self) -> int:
        return self.sync.retried

    def __getattr__(self, name: str) -> Callable[..., Any]:
        call = getattr(self.sync, name)

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(call, *args, **kwargs)

        return in_thread

    @asynccontextmanager
    async def hold(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """``with sync.hold(...)``, entered and left in threads; the block's error (or
        cancellation) is handed to the sync hold's ``__exit__`` as ``with`` would."""
        scope = self.sync.hold(*args, **kwargs)
        await asyncio.to_thread(scope.__enter__)
        try:
            yield SyncHoldAsAsync(scope)
        except BaseException as error:
            await asyncio.to_thread(scope.__exit__, type(error), error, error.__traceback__)
            raise
        await asyncio.to_thread(scope.__exit__, None, None, None)


class SyncHoldAsAsync:
    def __init__(self, scope: SyncHoldHandle) -> None:
        self.scope = scope

    def __getattr__(self, name: str) -> Any:
        return getattr(self.scope, name)  # reserved, outcome, reserve_outcome, hold_id

    async def settle(self, credits: int | None = None) -> Outcome:
        return await asyncio.to_thread(self.scope.settle, credits)

    async def release(self) -> Outcome:
        return await asyncio.to_thread(self.scope.release)


async def bought(ledger: Any, account_id: str, package: str = "small") -> Outcome:
    """Open the account with a package (1,000 purchased credits for ``small``)."""
    outcome: Outcome = await ledger.execute(buy_command(account_id, package))
    return outcome


def buy_command(account_id: str, package: str = "small") -> BuyPackage:
    return BuyPackage(
        command_id=f"buy-{uuid.uuid4().hex}",
        account_id=account_id,
        occurred_at=datetime.now(UTC),
        package=package,
        payment_ref=f"pay-{uuid.uuid4().hex}",
    )


def events_of(ledger: Any, account_id: str) -> list[str]:
    """The names of the account's stored events, in order."""
    return [type(r.event).__name__ for r in ledger.ledger.store.stream(account_id)]


async def stored(ledger: Any, outcome: Outcome | None, timeout_s: float = 20) -> list[str]:
    """The account's event names once the ledger has stored what ``outcome`` reports (an
    outcome is published just before its batch commits)."""
    assert outcome is not None and outcome.stream_version is not None
    version = outcome.stream_version
    return await until_events(
        ledger, outcome.account_id, lambda names: len(names) >= version, timeout_s
    )


async def until_events(
    ledger: Any, account_id: str, done: Callable[[list[str]], bool], timeout_s: float = 20
) -> list[str]:
    async with asyncio.timeout(timeout_s):
        while not done(names := events_of(ledger, account_id)):
            await asyncio.sleep(0.05)
    return names
