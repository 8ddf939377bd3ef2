"""Balance alerts (low balance, depleted, expiring soon) for the page, as they arrive.

One consumer of the alerts topic per API process, started by the first alert stream that
opens (an API nobody watches alerts on never reads the topic), from the topic's end: alerts are
news, and the balance itself is the state. Each open stream has a small mailbox; the projector
delivers at least once, so a repeated ``alert_id`` is dropped here. No alert is stored: a page
opened later sees the balance, not old alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from events import topics
from events.balances import BalanceAlert
from services.settings import Settings

log = logging.getLogger("kalema.api")
MAILBOX = 20  # alerts waiting per stream; a browser that far behind loses the oldest
REMEMBERED = 10_000  # alert ids remembered to drop repeats


class AlertHub:
    def __init__(self) -> None:
        self._streams: defaultdict[str, set[asyncio.Queue[BalanceAlert]]] = defaultdict(set)
        self._seen: OrderedDict[str, None] = OrderedDict()

    def subscribe(self, account_id: str) -> asyncio.Queue[BalanceAlert]:
        mailbox: asyncio.Queue[BalanceAlert] = asyncio.Queue(MAILBOX)
        self._streams[account_id].add(mailbox)
        return mailbox

    def unsubscribe(self, account_id: str, mailbox: asyncio.Queue[BalanceAlert]) -> None:
        streams = self._streams.get(account_id)
        if streams is not None:
            streams.discard(mailbox)
            if not streams:
                del self._streams[account_id]

    def publish(self, alert: BalanceAlert) -> None:
        if alert.alert_id in self._seen:
            return
        self._seen[alert.alert_id] = None
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        for mailbox in self._streams.get(alert.account_id, ()):
            if mailbox.full():
                mailbox.get_nowait()
            mailbox.put_nowait(alert)


class AlertFeed:
    """The alerts topic into the hub, from the end of the topic at start."""

    def __init__(self, settings: Settings, hub: AlertHub) -> None:
        self.settings, self.hub = settings, hub
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def started(self) -> AlertHub:
        async with self._lock:
            if self._task is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    group_id=None,
                    enable_auto_commit=False,
                    client_id="kalema-api-alerts",
                )
                await consumer.start()
                topic = self.settings.topic["alerts"]
                partitions = [TopicPartition(topic, n) for n in range(topics.ALERTS.partitions)]
                consumer.assign(partitions)
                await consumer.seek_to_end(*partitions)
                for partition in partitions:  # from now on, before the stream says it is open
                    await consumer.position(partition)
                self._task = asyncio.create_task(self._run(consumer))
        return self.hub

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                try:
                    batch = await consumer.getmany(timeout_ms=500)
                except Exception:
                    log.exception("reading the alerts topic failed; retrying")
                    await asyncio.sleep(1.0)
                    continue
                for records in batch.values():
                    for record in records:
                        self._deliver(record.value)
        finally:
            await consumer.stop()

    def _deliver(self, value: bytes | None) -> None:
        try:
            self.hub.publish(BalanceAlert.model_validate_json(value or b""))
        except ValidationError as error:
            log.warning("skipped an unreadable alert: %s", error)
