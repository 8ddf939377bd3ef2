"""The top-up process: follow the ledger's log from a stored position, and charge each
``TopUpRequested`` once, off-session, with the request id as the provider's idempotency key.

Exactly one process is active (a lease row in the ledger's database, as the clock's); a
standby takes over once the lease runs out. What makes a top-up charged once whatever
happens is the key, not the lease: a crash between the charge and the stored position, or two
processes overlapping for an instant, ask the provider again under the same key and get the
first charge back. The package itself arrives through the provider's webhook (``BuyPackage``
naming the request); a decline is reported to the ledger as ``RecordTopUpFailure`` (the
webhook reports it too, under the same command id: decided once), and the ledger decides the
retry. A charge the provider did not answer is asked again, under the same key, a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events.commands import Offer, RecordTopUpFailure
from events.ledger import TopUpRequested
from projections.follow import LogReader
from services import kafka_clients
from services.clock.lease import Lease
from services.ledger.store import LedgerStore
from services.payments.model import CardCharges, ChargeDeclined, Order, top_up_failure_id
from services.payments.quote import sign_quote
from services.startup import opened
from services.topup.position import Position
from services.topup.settings import TopUpSettings

log = logging.getLogger("kalema.topup")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Pending:
    """A request read from the log and not yet charged (or reported declined)."""

    notification_id: int
    account_id: str
    request: TopUpRequested
    due: datetime


class TopUps:
    def __init__(
        self,
        settings: TopUpSettings,
        charges: CardCharges,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.charges = charges
        self.now = now
        self.store, self.lease, self.position = _open(settings)
        self.reader = LogReader(self.store, settings.topup_page_events)
        self.pending: dict[str, Pending] = {}
        self.after = 0  # the last notification read
        self.active = False
        self.charged: list[str] = []  # request ids this process charged, newest last
        self.declined: list[str] = []
        self._limit = asyncio.Semaphore(settings.topup_concurrent_charges)
        self._producer = kafka_clients.producer(
            settings, client_id="kalema-topup", acks="all", enable_idempotence=True
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Charge top-ups until ``stop`` is set; gives the lease up on the way out."""
        await self._producer.start()
        try:
            while not stop.is_set():
                more = await self.turn()
                if not more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.topup_poll_s)
        finally:
            if self.active:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.lease.give_up)
            await self._producer.stop()

    def close(self) -> None:
        self.store.close()

    async def turn(self) -> bool:
        """Hold the lease, read a page, charge what is due, store the position. Whether a
        full page was read (more may be waiting)."""
        now = self.now()
        if not await self._hold_lease(now):
            return False
        page = await asyncio.to_thread(self.reader.read, self.after)
        for notification_id, recorded in page.items:
            event = recorded.event
            if isinstance(event, TopUpRequested):
                self.pending.setdefault(
                    event.request_id,
                    Pending(notification_id, recorded.originator_id, event, event.not_before),
                )
        if page.items:
            self.after = page.last_id
        await self._charge_due(now)
        held_back = [p.notification_id - 1 for p in self.pending.values()]
        await asyncio.to_thread(self.position.save, min([self.after, *held_back]))
        return page.full

    async def _hold_lease(self, now: datetime) -> bool:
        try:
            held = await asyncio.to_thread(self.lease.take, now.timestamp())
        except Exception:
            log.exception("could not renew the top-up lease; standing by")
            held = False
        if held and not self.active:
            self.after = await asyncio.to_thread(self.position.load)
            self.pending.clear()
            log.info("top-ups active (%s) from notification %d", self.lease.holder, self.after)
        elif not held and self.active:
            log.warning("top-up lease lost: another process is active; standing by")
            self.pending.clear()
        self.active = held
        return held

    async def _charge_due(self, now: datetime) -> None:
        due = [p for p in self.pending.values() if p.due <= now]
        await asyncio.gather(*(self._charge(p) for p in due))

    async def _charge(self, pending: Pending) -> None:
        request = pending.request
        async with self._limit:
            try:
                ref = await self.charges.charge_saved_card(
                    self._order(pending.account_id, request),
                    request.payment_method,
                    request.request_id,
                )
            except ChargeDeclined as declined:
                if await self._report(pending, declined.reason):
                    self.declined = [*self.declined, request.request_id][-1000:]
                    del self.pending[request.request_id]
                return
            except Exception:
                log.exception("top-up %s not charged; asking again", request.request_id)
                pending.due = self.now() + timedelta(seconds=self.settings.topup_retry_s)
                return
        log.info("top-up %s charged: %s", request.request_id, ref)
        self.charged = [*self.charged, request.request_id][-1000:]
        del self.pending[request.request_id]

    def _order(self, account_id: str, request: TopUpRequested) -> Order:
        """The package as the ledger priced it when it asked, signed as a checkout's quote."""
        secret = self.settings.quote_key()
        offer = Offer(
            credits=request.credits, price_cents=request.price_cents, currency=request.currency
        )
        return Order(
            account_id=account_id,
            package=request.package,
            price_cents=request.price_cents,
            currency=request.currency,
            return_url="/",
            quote=sign_quote(secret, account_id, request.package, offer),
        )

    async def _report(self, pending: Pending, reason: str) -> bool:
        """Tell the ledger the charge was declined; whether the command was sent."""
        request = pending.request
        command = RecordTopUpFailure(
            command_id=top_up_failure_id(request.request_id),
            account_id=pending.account_id,
            occurred_at=self.now(),
            request_id=request.request_id,
            reason=reason[:500] or "declined",
        )
        try:
            await self._producer.send_and_wait(
                self.settings.topic["commands"],
                command.model_dump_json().encode(),
                key=command.account_id.encode(),
            )
        except Exception:
            log.exception("could not report top-up %s declined; asking again", request.request_id)
            pending.due = self.now() + timedelta(seconds=self.settings.topup_retry_s)
            return False
        log.warning("top-up %s declined: %s", request.request_id, reason)
        return True


def _open(settings: TopUpSettings) -> tuple[LedgerStore, Lease, Position]:
    def open_() -> tuple[LedgerStore, Lease, Position]:
        store = LedgerStore(settings)
        try:
            lease = Lease(store, settings.topup_holder, settings.topup_lease_ttl_s, name="top-up")
            return store, lease, Position(store)
        except Exception:
            store.close()
            raise

    return opened(open_, "the store")
