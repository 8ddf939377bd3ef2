"""A small client for producers (AI workers, billing, the web page).

    async with LedgerClient(Settings()) as ledger:
        outcome = await ledger.use_tool("acct-1", "article_generation")  # or InsufficientCredits
        async with ledger.hold("acct-1", "image_generation", units=2) as hold:
            ...  # the long work
            await hold.settle(70)  # leaving without settling releases the hold

Commands are sent keyed by account; the answer is the outcome with the same ``command_id``,
read from this instance's own partitions of the replies topic (``reply_inbox.py``): each
command names one of them in its reply headers, so a client reads its own outcomes only.
``send`` is fire-and-forget for billing events (its outcome goes to the outcomes topic). A
call that gets no outcome in time sends the same command again (a repeat is answered with the
first outcome, so a retry never charges twice). ``services/client/sync_client.py`` offers the
same calls to code that is not asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from aiokafka import ConsumerRecord

from events.commands import BuyPackage, Command, UseTool
from events.outcomes import Outcome
from events.refusals import refusal_from
from services import kafka_clients
from services.client.reply_inbox import ReplyInbox
from services.ledger.replies import reply_headers
from services.settings import Settings

if TYPE_CHECKING:
    from events.balances import BalanceUpdated
    from projections.store import BalanceReadModel
    from services.client.holds import HoldHandle
    from services.ledger.core import Catalog

log = logging.getLogger("kalema.client")
T = TypeVar("T")


class LedgerTimeout(TimeoutError):
    """No outcome arrived in time; the command may still be decided. Retry with the same
    ``command_id``: a repeat is answered with the first outcome and decides nothing."""


class LedgerUnavailable(ConnectionError):
    """The outcome reader stopped while this call waited: the command may still be decided.
    Retry with the same ``command_id`` (the reader is started again on the next call)."""


Waiting = dict[tuple[str, str], list[asyncio.Future[Outcome]]]


class LedgerClient:
    def __init__(
        self,
        settings: Settings,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        hold_for: timedelta = timedelta(hours=1),
    ) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._producer = kafka_clients.producer(settings, acks="all", enable_idempotence=True)
        self._replies = ReplyInbox(settings, self._resolve, self._rebalanced, log)
        # Keyed by (account_id, command_id): command ids are unique per account only. A list,
        # because two calls may wait for one command (a producer's retry under load).
        self._waiting: Waiting = {}
        # The commands waited for, with the reply partition each was last sent with: sent
        # again when a rebalance takes that partition away.
        self._asked: dict[tuple[str, str], tuple[Command, int]] = {}
        self.resent = 0  # commands sent again after a rebalance took their reply partition
        self._reader: asyncio.Task[None] | None = None
        # Retries: within ``timeout_s`` (still the most a call waits, as callers were told),
        # a command without an outcome is sent again (the same command, so the same id) at
        # most ``retries`` times, each wait twice the one before.
        assert retries >= 0, "retries is a count of extra attempts"
        self.retries = retries
        self.retried = 0
        self.hold_for = hold_for  # how long a hold lasts unless the call says otherwise
        self._background: set[asyncio.Task[Any]] = set()  # releases that must outlive a cancel
        self._read_model: BalanceReadModel | None = None  # opened on the first balance read
        self._catalog: Catalog | None = None
        self._reads: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        await self._producer.start()
        topic = self._replies.topic
        if not await self._producer.partitions_for(topic):
            raise RuntimeError(f"topic {topic} does not exist; run python -m services.topics")
        await self._replies.open()
        self._start_reader()
        if not await self._replies.until_assigned(self.timeout_s):  # calls wait for one too
            log.warning("no reply partition after %.1fs; calls will wait for one", self.timeout_s)

    async def stop(self) -> None:
        if self._background:  # a release sent while its caller was cancelled: let it finish
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._replies.stop()
        await self._producer.stop()
        if self._reads is not None:
            model, self._read_model = self._read_model, None
            if model is not None:
                await self._in_read_thread(model.ledger.close)
            self._reads.shutdown(wait=True)
            self._reads = None

    async def send(self, command: Command) -> None:
        """Fire and forget: returns once the broker has the command."""
        await self._producer.send_and_wait(
            self.settings.topic["commands"],
            command.model_dump_json().encode(),
            key=command.account_id.encode(),
        )

    async def submit(self, command: Command) -> Outcome:
        """Send a command and wait for its outcome (accepted or refused), at most ``timeout_s``.

        Within that time the same command is sent up to ``retries`` more times, each wait twice
        the one before (10 s and 2 retries: sends at 0, 1.4 and 4.3 s); an outcome of any
        attempt answers the call. The ledger answers a repeated ``command_id`` with its first
        outcome, so a retry is never decided twice. ``LedgerTimeout`` when the time is up:
        the command may still be decided; call again with the same command."""
        if self._reader is None or self._reader.done():
            self._start_reader()  # it died: start it again rather than wait for nothing
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        key = (command.account_id, command.command_id)
        waiting: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.setdefault(key, []).append(waiting)
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self._retrying(command, attempt)
                await self._ask(command, deadline)
                last = attempt == self.retries
                wait_s = deadline - loop.time() if last else self._wait_s(attempt)
                # asyncio.wait, not a timeout around the future: the future must stay
                # uncancelled so that a late outcome of this attempt still answers the next.
                await asyncio.wait([waiting], timeout=max(0.0, wait_s))
                if waiting.done():
                    break
            if not waiting.done():
                raise LedgerTimeout(
                    f"no outcome for {command.command_id} in {self.timeout_s}s "
                    f"({self.retries + 1} attempts)"
                )
            return waiting.result()
        finally:
            self._forget(key, waiting)

    async def _ask(self, command: Command, deadline: float) -> None:
        """Send ``command`` naming one of this instance's reply partitions (waiting for one,
        within the call's time, while the group hands them out)."""
        loop = asyncio.get_running_loop()
        await self._replies.until_assigned(max(0.0, deadline - loop.time()))
        partition = self._replies.pick(command.account_id)
        if partition is None:
            return  # none in time: the call times out (LedgerTimeout), nothing was sent
        self._asked[(command.account_id, command.command_id)] = (command, partition)
        await self._producer.send_and_wait(
            self.settings.topic["commands"],
            command.model_dump_json().encode(),
            key=command.account_id.encode(),
            headers=reply_headers(self._replies.topic, partition, command.command_id),
        )

    def _rebalanced(self, owned: tuple[int, ...]) -> None:
        """The group moved reply partitions: send again each waited-for command whose
        partition this instance lost (its outcome would go to another client)."""
        if not owned:
            return  # nothing to name yet; the next assignment sends them
        for command, partition in list(self._asked.values()):
            if partition not in owned:
                self.resent += 1
                self.in_background(self._ask(command, asyncio.get_running_loop().time()))

    def _wait_s(self, attempt: int) -> float:
        """How long attempt ``attempt`` (from 0) waits: the waits double and sum to the
        call's ``timeout_s``."""
        return self.timeout_s * (1 << attempt) / ((1 << (self.retries + 1)) - 1)

    def _retrying(self, command: Command, attempt: int) -> None:
        self.retried += 1
        log.warning(
            "no outcome for %s after %.1fs; sending it again (attempt %d of %d)",
            command.command_id,
            sum(self._wait_s(n) for n in range(attempt)),
            attempt + 1,
            self.retries + 1,
        )

    async def execute(self, command: Command) -> Outcome:
        """Like ``submit``, but a refusal raises its typed error (e.g. ``InsufficientCredits``)."""
        outcome = await self.submit(command)
        if outcome.status == "refused":
            raise refusal_from(outcome.code or "refused", outcome.message or "", outcome.details)
        return outcome

    async def use_tool(self, account_id: str, tool: str, units: int = 1, **ids: Any) -> Outcome:
        return await self.execute(UseTool(**_stamp(account_id, ids), tool=tool, units=units))

    async def buy_package(
        self, account_id: str, package: str, payment_ref: str, **ids: Any
    ) -> Outcome:
        return await self.execute(
            BuyPackage(**_stamp(account_id, ids), package=package, payment_ref=payment_ref)
        )

    def hold(
        self,
        account_id: str,
        tool: str,
        units: int | None = 1,
        *,
        credits: int | None = None,
        hold_id: str | None = None,
        hold_for: timedelta | None = None,
    ) -> HoldHandle:
        """Credits set aside for long work, as an async context manager:

            async with ledger.hold("acct-1", "article_generation") as hold:
                await hold.settle(actual_credits)

        Entering reserves (``InsufficientCredits`` before any work starts); leaving without
        settling (an exception, a cancellation) releases. ``hold_id`` names the hold (a job's
        id, so a retried job reuses its hold); the command ids are ``<hold_id>:reserve``,
        ``:settle`` and ``:release``, so a retried hold or settle is never decided twice.
        The hold lasts ``hold_for`` (the client's, one hour by default; at most the catalog's
        ``max_hold_hours``, or the ledger refuses it with ``InvalidCommand``). Give ``credits``
        to reserve an amount rather than ``units`` of the tool."""
        from services.client.holds import HoldHandle  # here: holds.py builds on this module

        return HoldHandle(
            self,
            account_id,
            tool,
            units=None if credits is not None else units,
            credits=credits,
            hold_id=hold_id or f"hold-{uuid.uuid4().hex}",
            hold_for=hold_for or self.hold_for,
        )

    async def balance(self, account_id: str) -> BalanceUpdated | None:
        """The account's balance from the balance read model (None if it has none yet).

        Advisory: the read model follows the ledger a few milliseconds behind, and another
        worker may spend in between. The hold (or the use itself) is the guarantee."""
        model = await self._opened_read_model()
        view = await self._in_read_thread(model.get, account_id)
        if view is None or view.updated_at is None:
            return None
        return view.message()

    async def can_afford(self, account_id: str, tool: str, units: int = 1) -> bool:
        """Whether the read model's spendable credits cover ``units`` uses of ``tool``.

        Advisory, like ``balance``: a yes is no promise (reserve a hold for that); a no saves
        starting work that would be refused. ``UnknownTool`` if the catalog has no such tool."""
        price = (await self.catalog()).tools.get(tool)
        if price is None:
            raise refusal_from("unknown_tool", f"no tool {tool!r} in the catalog", {"tool": tool})
        current = await self.balance(account_id)
        return current is not None and current.total >= price.credits * units

    async def catalog(self) -> Catalog:
        """The catalog the ledger prices by (the file shipped with it)."""
        if self._catalog is None:
            from services.ledger.catalog_file import load_catalog

            self._catalog = await asyncio.to_thread(load_catalog)
        return self._catalog

    async def _opened_read_model(self) -> BalanceReadModel:
        """Open the read model on first use, in the client's read thread (database calls
        block; one thread, because a SQLite connection belongs to the thread that made it)."""
        if self._read_model is None:
            from projections.store import BalanceReadModel
            from services.ledger.store import LedgerStore

            def open_model() -> BalanceReadModel:
                return BalanceReadModel(LedgerStore(self.settings, build_index=False))

            self._read_model = await self._in_read_thread(open_model)
        return self._read_model

    async def _in_read_thread(self, call: Callable[..., T], *args: Any) -> T:
        if self._reads is None:
            self._reads = ThreadPoolExecutor(1, thread_name_prefix="kalema-client-read")
        return await asyncio.get_running_loop().run_in_executor(self._reads, call, *args)

    def in_background(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` to its end even if its caller is cancelled; ``stop`` waits for it."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @property
    def reader_errors(self) -> int:
        """Failed fetches of outcomes so far (each retried with back-off, the position kept,
        so no outcome is missed)."""
        return self._replies.errors

    @property
    def outcomes_read(self) -> int:
        """Outcomes this instance has read: its own only, on its reply partitions."""
        return self._replies.consumed

    def _start_reader(self) -> None:
        """Resolve waiting calls from this instance's reply partitions, in the background."""
        self._reader = self._replies.read()
        self._reader.add_done_callback(self._reader_stopped)

    def _reader_stopped(self, reader: asyncio.Task[None]) -> None:
        """The reader ended (cancelled or killed): fail every waiting call now."""
        if reader is not self._reader:
            return
        waiting, self._waiting = self._waiting, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(LedgerUnavailable("the outcome reader stopped"))

    def _resolve(self, record: ConsumerRecord[Any, bytes | None]) -> None:
        try:
            outcome = Outcome.model_validate_json(record.value or b"")
        except ValueError:
            return
        for waiting in self._waiting.get((outcome.account_id, outcome.command_id), []):
            if not waiting.done():
                waiting.set_result(outcome)

    def _forget(self, key: tuple[str, str], waiting: asyncio.Future[Outcome]) -> None:
        futures = self._waiting.get(key, [])
        if waiting in futures:
            futures.remove(waiting)
        if not futures:
            self._waiting.pop(key, None)
            self._asked.pop(key, None)


def _stamp(account_id: str, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": ids.get("command_id") or uuid.uuid4().hex,
        "account_id": account_id,
        "occurred_at": ids.get("occurred_at") or datetime.now(UTC),
    }
