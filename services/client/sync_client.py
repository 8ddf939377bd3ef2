"""The ledger client for code that is not asyncio (Celery tasks, scripts), with the same calls.

    with SyncLedgerClient(Settings()) as ledger:
        ledger.use_tool("acct-1", "keyword_suggestions")
        with ledger.hold("acct-1", "article_generation", hold_id=job_id) as hold:
            hold.settle(generate(job))     # leaving without settling releases the hold

Why a private event loop in a thread rather than a second, blocking implementation: the async
client's behaviour (outcomes matched on account and command id, retries with the same id, the
release when a hold's block fails) is the tested one, so the sync client runs exactly it. Each
call hands a coroutine to that loop and blocks until it ends; calls from several threads are
safe (the loop runs them side by side).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from events.balances import BalanceUpdated
from events.commands import Command
from events.outcomes import Outcome
from services.client.client import LedgerClient
from services.client.holds import HoldHandle
from services.settings import Settings

T = TypeVar("T")


class _Loop:
    """An event loop running in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="kalema-ledger-client", daemon=True
        )
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the loop and wait for it. If the waiting thread is interrupted
        (KeyboardInterrupt), the work is cancelled, as an async caller's would be."""
        future = asyncio.run_coroutine_threadsafe(work, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a hold being reserved gives its credits back (the client's stop
            raise  # waits for that release)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class SyncHoldHandle:
    """A ``HoldHandle`` for ``with``: the same reserve, settle and release, on the client's loop."""

    def __init__(self, loop: _Loop, hold: HoldHandle) -> None:
        self._loop = loop
        self.hold = hold

    @property
    def hold_id(self) -> str:
        return self.hold.hold_id

    @property
    def reserved(self) -> int:
        return self.hold.reserved

    @property
    def reserve_outcome(self) -> Outcome | None:
        return self.hold.reserve_outcome

    @property
    def outcome(self) -> Outcome | None:
        return self.hold.outcome

    def __enter__(self) -> Self:
        self._loop.run(self.hold.__aenter__())
        return self

    def settle(self, credits: int | None = None) -> Outcome:
        return self._loop.run(self.hold.settle(credits))

    def release(self) -> Outcome:
        return self._loop.run(self.hold.release())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._loop.run(self.hold.__aexit__(exc_type, exc, traceback))


class SyncLedgerClient:
    """``LedgerClient``'s calls, blocking. Options are the async client's (``timeout_s``,
    ``retries``, ``hold_for``)."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        self.settings = settings
        self._options = options
        self._loop: _Loop | None = None
        self._client: LedgerClient | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = _Loop()
        self._client = self._loop.run(self._started())

    async def _started(self) -> LedgerClient:
        client = LedgerClient(self.settings, **self._options)  # made on the loop it runs on
        await client.start()
        return client

    def stop(self) -> None:
        if self._loop is None:
            return
        loop, self._loop = self._loop, None
        try:
            if self._client is not None:
                loop.run(self._client.stop())
        finally:
            self._client = None
            loop.close()

    @property
    def client(self) -> LedgerClient:
        """The async client underneath (its counters, ``retried`` and ``reader_errors``)."""
        assert self._client is not None, "start the client first (or use it in a with block)"
        return self._client

    @property
    def retried(self) -> int:
        return self.client.retried

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "start the client first (or use it in a with block)"
        return self._loop.run(work)

    def send(self, command: Command) -> None:
        self._run(self.client.send(command))

    def submit(self, command: Command) -> Outcome:
        return self._run(self.client.submit(command))

    def execute(self, command: Command) -> Outcome:
        return self._run(self.client.execute(command))

    def use_tool(self, account_id: str, tool: str, units: int = 1, **ids: Any) -> Outcome:
        return self._run(self.client.use_tool(account_id, tool, units, **ids))

    def buy_package(self, account_id: str, package: str, payment_ref: str, **ids: Any) -> Outcome:
        return self._run(self.client.buy_package(account_id, package, payment_ref, **ids))

    def balance(self, account_id: str) -> BalanceUpdated | None:
        return self._run(self.client.balance(account_id))

    def can_afford(self, account_id: str, tool: str, units: int = 1) -> bool:
        return self._run(self.client.can_afford(account_id, tool, units))

    def hold(
        self,
        account_id: str,
        tool: str,
        units: int | None = 1,
        *,
        credits: int | None = None,
        hold_id: str | None = None,
        hold_for: timedelta | None = None,
    ) -> SyncHoldHandle:
        """See ``LedgerClient.hold``; use it with ``with``."""
        hold = self.client.hold(
            account_id, tool, units, credits=credits, hold_id=hold_id, hold_for=hold_for
        )
        assert self._loop is not None
        return SyncHoldHandle(self._loop, hold)
