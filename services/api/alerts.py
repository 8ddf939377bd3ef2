"""Balance alerts (low balance, depleted, expiring soon) for the page, as they arrive.

One consumer of the alerts topic per API process, started by the first alert stream that
opens (an API nobody watches alerts on never reads the topic), from the topic's end: alerts are
news, and the balance itself is the state. Each open stream has a small mailbox; the projector
delivers at least once, so a repeated ``alert_id`` is dropped here. No alert is stored: a page
opened later sees the balance, not old alerts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from events.balances import BalanceAlert
from services.settings import Settings
from services.tail import TopicTail

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
    """The alerts topic into the hub, from the end of the topic when a page first asks."""

    def __init__(self, settings: Settings, hub: AlertHub) -> None:
        self.settings, self.hub = settings, hub
        self._tail: TopicTail | None = None
        self._lock = asyncio.Lock()

    async def started(self) -> AlertHub:
        async with self._lock:
            if self._tail is None:
                tail = TopicTail(
                    self.settings, "alerts", self._deliver, client_id="kalema-api-alerts", log=log
                )
                await tail.start()  # from now on, before the stream says it is open
                self._tail = tail
        return self.hub

    async def stop(self) -> None:
        if self._tail is not None:
            await self._tail.stop()

    def _deliver(self, record: ConsumerRecord[Any, bytes | None]) -> None:
        try:
            self.hub.publish(BalanceAlert.model_validate_json(record.value or b""))
        except ValidationError as error:
            log.warning("skipped an unreadable alert: %s", error)
