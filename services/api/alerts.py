"""Balance alerts (low balance, depleted, expiring soon) for the page, as they arrive.

One consumer of the alerts topic per API process, started by the first alert stream that
opens (an API nobody watches alerts on never reads the topic), from the topic's end: alerts are
news, and the balance itself is the state. Each open stream has a small mailbox and the shared
heartbeat of ``services.api.streams`` (nothing runs for a quiet stream); the projector
delivers at least once, so a repeated ``alert_id`` is dropped here. No alert is stored: a page
opened later sees the balance, not old alerts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from events.balances import BalanceAlert
from services.api.streams import Heartbeats, Waker
from services.settings import Settings
from services.tail import TopicTail

log = logging.getLogger("kalema.api")
MAILBOX = 20  # alerts waiting per stream; a browser that far behind loses the oldest
REMEMBERED = 10_000  # alert ids remembered to drop repeats


class AlertStream(Waker):
    """One open stream of one account's alerts: a small mailbox; a browser ``MAILBOX`` alerts
    behind loses the oldest."""

    __slots__ = ("_waiting", "account_id")

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id
        self._waiting: deque[BalanceAlert] | None = None

    def offer(self, alert: BalanceAlert) -> None:
        if self._waiting is None:
            self._waiting = deque(maxlen=MAILBOX)
        self._waiting.append(alert)
        self.wake()

    async def next(self, timeout_s: float | None = None) -> list[BalanceAlert]:
        """The alerts waiting, oldest first; none if the stream was closed, a heartbeat is
        due, or nothing came within ``timeout_s``."""
        while await self.wait(timeout_s) and not self.closed:
            waiting, self._waiting = self._waiting, None
            if waiting:
                self.beat_due = False
                return list(waiting)
            if self.beat_due:
                self.beat_due = False
                return []
        return []


class AlertHub:
    def __init__(self, heartbeat_s: float = 15.0) -> None:
        self.closed = False
        self.heartbeats = Heartbeats(heartbeat_s)
        self._streams: dict[str, set[AlertStream]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def subscribe(self, account_id: str) -> AlertStream:
        stream = AlertStream(account_id)
        if self.closed:
            stream.close()
            return stream
        self._streams.setdefault(account_id, set()).add(stream)
        self.heartbeats.add(stream)
        return stream

    def unsubscribe(self, stream: AlertStream) -> None:
        self.heartbeats.discard(stream)
        streams = self._streams.get(stream.account_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.account_id]

    def publish(self, alert: BalanceAlert) -> None:
        if alert.alert_id in self._seen:
            return
        self._seen[alert.alert_id] = None
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        for stream in self._streams.get(alert.account_id, ()):
            stream.offer(alert)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        self.closed = True
        for streams in self._streams.values():
            for stream in streams:
                stream.close()
        self.heartbeats.stop()

    def streams(self) -> int:
        return sum(len(s) for s in self._streams.values())


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
        self.hub.close()
        if self._tail is not None:
            await self._tail.stop()

    def _deliver(self, record: ConsumerRecord[Any, bytes | None]) -> None:
        try:
            self.hub.publish(BalanceAlert.model_validate_json(record.value or b""))
        except ValidationError as error:
            log.warning("skipped an unreadable alert: %s", error)
