"""A small client for producers (AI workers, billing, the web page).

    async with LedgerClient(Settings()) as ledger:
        outcome = await ledger.use_tool("acct-1", "article_generation")  # or InsufficientCredits

Commands are sent keyed by account; the answer is the outcome with the same ``command_id``,
read from the outcomes topic. ``send`` is fire-and-forget for billing events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from events.commands import BuyPackage, Command, UseTool
from events.outcomes import Outcome
from events.refusals import refusal_from
from services.kafka_security import client_security
from services.settings import Settings

log = logging.getLogger("kalema.client")


class LedgerTimeout(TimeoutError):
    """No outcome arrived in time; the command may still be decided. Retry with the same
    ``command_id``: a repeat is answered with the first outcome and decides nothing."""


class LedgerUnavailable(ConnectionError):
    """The outcome reader stopped while this call waited: the command may still be decided.
    Retry with the same ``command_id`` (the reader is started again on the next call)."""


Waiting = dict[tuple[str, str], list[asyncio.Future[Outcome]]]


class LedgerClient:
    def __init__(self, settings: Settings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            **client_security(settings),
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            **client_security(settings),
        )
        # Keyed by (account_id, command_id): command ids are unique per account only. A list,
        # because two calls may wait for one command (a producer's retry under load).
        self._waiting: Waiting = {}
        self._reader: asyncio.Task[None] | None = None
        self.reader_errors = 0

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        topic = self.settings.topic["outcomes"]
        numbers = await self._producer.partitions_for(topic)
        if not numbers:
            raise RuntimeError(f"topic {topic} does not exist; run python -m services.topics")
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end now, before any command is sent
            await self._consumer.position(partition)
        self._start_reader()

    async def stop(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._consumer.stop()
        await self._producer.stop()

    async def send(self, command: Command) -> None:
        """Fire and forget: returns once the broker has the command."""
        await self._producer.send_and_wait(
            self.settings.topic["commands"],
            command.model_dump_json().encode(),
            key=command.account_id.encode(),
        )

    async def decide(self, command: Command) -> Outcome:
        """Send a command and wait for its outcome (accepted or refused)."""
        if self._reader is None or self._reader.done():
            self._start_reader()  # it died: start it again rather than wait for nothing
        key = (command.account_id, command.command_id)
        waiting: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(waiting)
        try:
            await self.send(command)
            async with asyncio.timeout(self.timeout_s):
                return await waiting
        except TimeoutError as error:
            raise LedgerTimeout(
                f"no outcome for {command.command_id} in {self.timeout_s}s"
            ) from error
        finally:
            self._forget(key, waiting)

    async def execute(self, command: Command) -> Outcome:
        """Like ``decide``, but a refusal raises its typed error (e.g. ``InsufficientCredits``)."""
        outcome = await self.decide(command)
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

    def _start_reader(self) -> None:
        self._reader = asyncio.create_task(self._read_outcomes())
        self._reader.add_done_callback(self._reader_stopped)

    async def _read_outcomes(self) -> None:
        """Resolve waiting calls from the outcomes topic. A failed fetch is retried with
        back-off (the position is kept, so no outcome is missed)."""
        delay_s = 0.1
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
            except Exception:
                self.reader_errors += 1
                log.exception("reading outcomes failed; retrying in %.1fs", delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
                continue
            delay_s = 0.1
            for records in batch.values():
                for record in records:
                    self._resolve(record.value)

    def _reader_stopped(self, reader: asyncio.Task[None]) -> None:
        """The reader ended (cancelled or killed): fail every waiting call now."""
        if reader is not self._reader:
            return
        waiting, self._waiting = self._waiting, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(LedgerUnavailable("the outcome reader stopped"))

    def _resolve(self, value: bytes | None) -> None:
        try:
            outcome = Outcome.model_validate_json(value or b"")
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


def _stamp(account_id: str, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": ids.get("command_id") or uuid.uuid4().hex,
        "account_id": account_id,
        "occurred_at": ids.get("occurred_at") or datetime.now(UTC),
    }
