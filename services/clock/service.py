"""The clock's loop: hold the lease, know every account's next due instant, and send the
ledger an ``ExpireHolds`` at that instant.

Where the schedule comes from: the balance read model, read whole when the clock becomes
active (after a start or a lease take-over), a page of ``clock_page_rows`` accounts per turn of
the loop so that the lease is renewed between pages however many accounts there are; then the
balances topic: each ``BalanceUpdated`` names an account whose row alone is re-read (the
projector publishes before it commits, so a row older than the update is re-read until it
catches up). A paged re-read every ``clock_rescan_s`` is only a safety net. The command for an
instant is the same whoever sends it and however often (``schedule.expiry``), so a restart, a
duplicate clock or a re-sent instant changes nothing; the clock sends what is due among the
accounts read so far at once, so what fell due while no clock ran goes out as it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition

from events.balances import BalanceUpdated
from projections import balance
from projections.store import BalanceReadModel
from services import kafka_clients
from services.clock import metrics
from services.clock.lease import Lease
from services.clock.schedule import Schedule, expiry, next_due
from services.clock.settings import ClockSettings
from services.ledger.store import LedgerStore
from services.startup import opened

log = logging.getLogger("kalema.clock")
RETRY_S = 0.05  # re-read a row the topic says is newer, this soon
MAX_WAIT_S = 0.5  # how long a quiet clock sleeps before looking at the stop flag again


def utcnow() -> datetime:
    return datetime.now(UTC)


class Clock:
    def __init__(self, settings: ClockSettings, now: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.now = now
        self.store, self.model, self.lease = _open(settings)
        self.schedule = Schedule()
        self.active = False
        self.started = asyncio.Event()
        self.sent: list[tuple[str, datetime]] = []  # the last instants sent, newest last
        self._versions: dict[str, int] = {}  # per account, the read model row scheduled from
        self._pending: dict[str, int] = {}  # per account, a newer version the topic announced
        self._reading: str | None = None  # a paged read under way: the last account read
        self._renew_at = self._rescan_at = datetime.min.replace(tzinfo=UTC)
        self._producer = kafka_clients.producer(
            settings,
            client_id="kalema-clock",
            acks="all",
            enable_idempotence=True,
        )
        self._consumer = kafka_clients.consumer(
            settings,
            client_id="kalema-clock",
            group_id=None,
            enable_auto_commit=False,
        )
        metrics.track(self)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep time until ``stop`` is set; gives the lease up on the way out."""
        await self._producer.start()
        await self._consumer.start()
        try:
            await self._follow_balances()
            self.started.set()
            while not stop.is_set():
                await self._tick()
        finally:
            if self.active:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.lease.give_up)
            await self._consumer.stop()
            await self._producer.stop()

    def close(self) -> None:
        self.store.close()

    async def _follow_balances(self) -> None:
        """Read the balances topic from its end: what the read model already has comes from it."""
        topic = self.settings.topic["balances"]
        async with asyncio.timeout(30):  # a topic just created may take a moment to be known
            while not (numbers := await self._producer.partitions_for(topic)):
                await asyncio.sleep(0.2)
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end now, before the read model is read
            await self._consumer.position(partition)

    async def _tick(self) -> None:
        now = self.now()
        if now >= self._renew_at:
            await self._hold_lease(now)
        if self.active and self._reading is None and now >= self._rescan_at:
            self._reading = ""  # the safety net's re-read, a page at a time like the first
        if self.active and self._reading is not None:
            await self._read_page()
        batch = await self._consumer.getmany(timeout_ms=int(self._wait_s(now) * 1000))
        for records in batch.values():
            for record in records:
                self._announced(record.value)
        if not self.active:
            return
        if self._pending:
            await self._refresh()
        await self._fire(self.now())

    async def _hold_lease(self, now: datetime) -> None:
        ttl = self.settings.clock_lease_ttl_s
        try:
            held = await asyncio.to_thread(self.lease.take, now.timestamp())
        except Exception:
            log.exception("could not renew the clock's lease; standing by")
            held = False
        self._renew_at = now + timedelta(seconds=ttl / 3)
        if held and not self.active:
            log.info("clock active (%s holds the lease)", self.settings.clock_holder)
            self.schedule.clear()  # another clock may have sent anything meanwhile: read anew
            self._versions.clear()
            self._reading = ""
        elif not held and self.active:
            log.warning("clock lease lost: another clock is active; standing by")
            self.schedule.clear()
            self._reading = None
        self.active = held

    async def _read_page(self) -> None:
        """Schedule the next page of the read model's accounts; the last page ends the read."""
        after, limit = self._reading or "", self.settings.clock_page_rows
        rows = await asyncio.to_thread(self.model.page, after, limit)
        for row in rows:
            self._scheduled_from(row["account_id"], row["view"])
        if len(rows) == limit:
            self._reading = rows[-1]["account_id"]
            return
        self._reading = None
        self._rescan_at = self.now() + timedelta(seconds=self.settings.clock_rescan_s)
        log.info(
            "read model read: %d accounts scheduled, next due %s", len(self.schedule), self.next
        )

    def _scheduled_from(self, account_id: str, text: str) -> None:
        """Schedule an account from its row, unless the topic has brought a newer one since."""
        try:
            view = balance.load(account_id, text)
        except ValueError as error:
            log.error("row of %s unreadable (%s); not scheduled", account_id, error)
            return
        if view.version < self._versions.get(account_id, 0):
            return
        self._versions[account_id] = view.version
        self.schedule.set(account_id, next_due(view.account))
        if self._pending.get(account_id, 0) <= view.version:
            self._pending.pop(account_id, None)

    @property
    def next(self) -> datetime | None:
        return self.schedule.next_instant()

    def _announced(self, value: bytes | None) -> None:
        try:
            update = BalanceUpdated.model_validate_json(value or b"")
        except ValueError:
            return  # not ours to judge: the projector wrote it
        account_id = update.account_id
        if update.version > self._versions.get(account_id, 0):
            self._pending[account_id] = max(self._pending.get(account_id, 0), update.version)

    async def _refresh(self) -> None:
        """Re-read the rows the topic announced; keep waiting for those not yet committed."""
        wanted = list(self._pending)
        found, unreadable = await asyncio.to_thread(self.model.entries, wanted)
        for account_id in unreadable:
            self._pending.pop(account_id, None)
        for account_id, entry in found.items():
            view = entry.view
            self._versions[account_id] = max(self._versions.get(account_id, 0), view.version)
            if view.version >= self._pending[account_id]:
                del self._pending[account_id]
                self.schedule.set(account_id, next_due(view.account))

    async def _fire(self, now: datetime) -> None:
        due = self.schedule.pop_due(now)
        if not due:
            return
        commands = [expiry(account_id, instant) for account_id, instant in due]
        topic = self.settings.topic["commands"]
        try:
            sent = [
                await self._producer.send(
                    topic, c.model_dump_json().encode(), key=c.account_id.encode()
                )
                for c in commands
            ]
            await asyncio.gather(*sent)
        except Exception:
            log.exception("could not send %d expiries; retrying", len(commands))
            for account_id, instant in due:
                self.schedule.set(account_id, instant)
            await asyncio.sleep(1.0)
            return
        for command in commands:
            late_s = (self.now() - command.occurred_at).total_seconds()
            metrics.sent(late_s)
            log.debug(
                "expiry sent",
                extra={"command_id": command.command_id, "account_id": command.account_id},
            )
        self.sent = (self.sent + due)[-1000:]

    def _wait_s(self, now: datetime) -> float:
        """Until the next instant, lease renewal or re-read, at most MAX_WAIT_S (none while a
        read is under way: its next page is read at once)."""
        if self.active and self._reading is not None:
            return 0.0
        wakes = [self._renew_at, self._rescan_at] if self.active else [self._renew_at]
        if self.active and (instant := self.schedule.next_instant()) is not None:
            wakes.append(instant)
        wait = min((w - now).total_seconds() for w in wakes)
        if self._pending and self.active:
            wait = min(wait, RETRY_S)
        return min(max(wait, 0.0), MAX_WAIT_S)


def _open(settings: ClockSettings) -> tuple[LedgerStore, BalanceReadModel, Lease]:
    """The store, the read model and the lease, created if missing (retried: on a fresh
    database the ledger and the projector may be creating their tables at this instant)."""

    def open_() -> tuple[LedgerStore, BalanceReadModel, Lease]:
        store = LedgerStore(settings)
        try:
            lease = Lease(store, settings.clock_holder, settings.clock_lease_ttl_s)
            return store, BalanceReadModel(store), lease
        except Exception:
            store.close()
            raise

    return opened(open_, "the store")
