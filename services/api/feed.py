"""The balances topic into the hub: ONE consumer per API process, whatever the number of open
streams. It reads every partition without a consumer group (each API process must see every
account) from the end of the topic as it starts: what came before is in the read model, which
each stream reads first."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from events import topics
from events.balances import BalanceUpdated
from services.api.hub import BalanceHub
from services.kafka_security import client_security
from services.settings import Settings

log = logging.getLogger("kalema.api")


class BalanceFeed:
    def __init__(self, settings: Settings, hub: BalanceHub) -> None:
        self.topic = settings.topic["balances"]
        self.hub = hub
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            client_id="kalema-api-balances",
            **client_security(settings),
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        # The partitions as declared (``events.topics``); ``ensure_topics`` created it so.
        partitions = [TopicPartition(self.topic, n) for n in range(topics.BALANCES.partitions)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end now, before any stream opens
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=500)
            except Exception:  # the streams fall back to re-reading the read model meanwhile
                log.exception("reading %s failed; retrying", self.topic)
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    self._deliver(record.value)

    def _deliver(self, value: bytes | None) -> None:
        try:
            update = BalanceUpdated.model_validate_json(value or b"")
        except ValidationError as error:
            log.warning("skipped an unreadable record on %s: %s", self.topic, error)
            return
        self.hub.publish(update)
