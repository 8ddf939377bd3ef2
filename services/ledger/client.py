"""A small client for producers (AI workers, billing, the web page).

    async with LedgerClient(Settings()) as ledger:
        outcome = await ledger.use_tool("acct-1", "article_generation")  # or InsufficientCredits

Commands are sent keyed by account; the answer is the outcome with the same ``command_id``,
read from the outcomes topic. ``send`` is fire-and-forget for billing events.
"""

from __future__ import annotations

import asyncio
import contextlib
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


class LedgerTimeout(TimeoutError):
    """No outcome arrived in time; the command may still be decided. Retry with the same
    ``command_id``: a repeat is answered with the first outcome and decides nothing."""


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
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}
        self._reader: asyncio.Task[None] | None = None

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
        self._reader = asyncio.create_task(self._read_outcomes())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
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
        waiting: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[command.command_id] = waiting
        try:
            await self.send(command)
            async with asyncio.timeout(self.timeout_s):
                return await waiting
        except TimeoutError as error:
            raise LedgerTimeout(
                f"no outcome for {command.command_id} in {self.timeout_s}s"
            ) from error
        finally:
            self._waiting.pop(command.command_id, None)

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

    async def _read_outcomes(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self._resolve(record.value)

    def _resolve(self, value: bytes | None) -> None:
        try:
            outcome = Outcome.model_validate_json(value or b"")
        except ValueError:
            return
        waiting = self._waiting.get(outcome.command_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(outcome)


def _stamp(account_id: str, ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": ids.get("command_id") or uuid.uuid4().hex,
        "account_id": account_id,
        "occurred_at": ids.get("occurred_at") or datetime.now(UTC),
    }
