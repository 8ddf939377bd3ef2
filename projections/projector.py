"""The balance projector: follows the ledger's log, folds it, publishes, then commits.

Per page of whole commands: fold (pure), publish every changed balance and every alert and
wait for the broker's acknowledgements, then commit the rows and the position in one
transaction. Publishing before the commit makes delivery at-least-once: a crash in between
re-reads the page from the stored position and publishes the same versions again (consumers
drop them by ``version``, alerts by ``alert_id``); publishing after the commit could lose an
update for good. While a full page is published and committed, the next is read and folded on
top of it; it leaves only after that commit, and is dropped if the commit fails. A failed publish
or commit is retried from the stored position. An event that cannot be decoded stops the
projector with the event named (the store itself is damaged); an event that cannot be folded
quarantines its account (its row stays at its last good version, ``projections check`` names
it) and every other account goes on. Only the projector holding the lease
(``projections.lease``) publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from events.balances import BalanceAlert, BalanceUpdated, encoded
from projections import finance, metrics
from projections.balance import BalanceView, fold
from projections.batch import Entry, Projected, project, quiet_alerts
from projections.follow import LogReader, Page, UnreadableEvent, Wakeup
from projections.history import Names
from projections.lease import Lease
from projections.maintenance import rebuild_into
from projections.settings import ProjectorSettings
from projections.store import open_read_model
from services import gc_tuning
from services.ledger.catalog_file import load_catalog
from services.publish import batch_producer, publish

log = logging.getLogger("kalema.projector")


class LeaseLost(RuntimeError):
    """Another projector holds the lease: this one must not publish."""


@dataclass(frozen=True, slots=True)
class Folded:
    """A page read and folded (after notification ``after``), not yet published or committed,
    with the clock (``perf_counter``) at its start, after reading and after folding."""

    after: int
    page: Page
    projected: Projected
    messages: dict[str, BalanceUpdated]
    started: float
    read: float
    folded: float


class Projector:
    def __init__(self, settings: ProjectorSettings) -> None:
        self.settings = settings
        self.ledger, self.model = open_read_model(settings)
        self.reader = LogReader(self.ledger, settings.projector_batch_max_events)
        self.rules = settings.alert_rules()
        self.names = Names.of(load_catalog())  # the history as the page says it
        self.position = 0
        self.batches_committed = 0
        self.events_projected = 0
        self.started = asyncio.Event()  # first became active
        self.leading = False
        self.lease = Lease(self.model, settings.projector_lease_ms / 1000)
        self.quarantined: dict[str, str] = {}
        self._cache: OrderedDict[str, Entry] = OrderedDict()
        self._producer: AIOKafkaProducer | None = None
        self._ahead: Folded | None = None  # the next page, folded while one was committed
        self.thaw = gc_tuning.Thaw()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until ``stop`` is set, while holding the lease (standing by when
        another projector holds it); the page in hand is finished first."""
        # A page's messages to one partition in one batch, sized for a full page of balances.
        self._producer = batch_producer(self.settings, "kalema-projector")
        await self._producer.start()
        wake = asyncio.Event()
        waker = asyncio.create_task(_set_when(stop, wake))
        wakeup = Wakeup(self.ledger, wake)
        try:
            while not stop.is_set():
                if await self._stand_by(stop):
                    await self._lead(stop, wake)
        finally:
            if self.leading:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.lease.release)
            self.leading = False
            waker.cancel()
            await asyncio.to_thread(wakeup.close)
            await self._producer.stop()

    async def _stand_by(self, stop: asyncio.Event) -> bool:
        """Until this projector holds the lease (True) or is stopped (False)."""
        said = False
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self.lease.take):
                    return True
            except Exception:
                log.exception("could not reach the lease; retrying")
            if not said:
                log.info("another projector is active; standing by")
                said = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease.ttl_s / 3):
                    await stop.wait()
        return False

    async def _lead(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Project while the lease holds."""
        self._cache.clear()  # another projector may have moved the read model meanwhile
        self._ahead = None
        try:
            await asyncio.to_thread(self.model.recorder.merge_usage_by_tool)
            self.position = await asyncio.to_thread(self.model.position)
            if self.position and not await asyncio.to_thread(self._complete):
                log.warning("the read model has no history or books yet: rebuilding it")
                await asyncio.to_thread(rebuild_into, self.ledger, self.model, self.settings)
                self.position = await asyncio.to_thread(self.model.position)
            self.quarantined = await asyncio.to_thread(self.model.quarantined)
        except Exception:
            log.exception("could not read the read model's position; retrying")
            await asyncio.sleep(self.settings.projector_retry_delay_ms / 1000)
            return
        log.info("active: projecting the ledger's log from notification %d", self.position)
        self.leading = True
        self.started.set()
        while not stop.is_set():
            wake.clear()
            try:
                # A page's objects are acyclic: freed as it returns, and the entries it
                # caches frozen rather than scanned.
                with gc_tuning.batch_survivors_frozen(self.thaw):
                    more = await self._step()
                if not more and not await self._renewed():
                    raise LeaseLost
            except LeaseLost:
                log.warning("lost the lease to another projector; standing by")
                self.leading = False
                return
            if more:
                continue  # more is waiting
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval_s()):
                    await wake.wait()

    def close(self) -> None:
        self.ledger.close()

    def _complete(self) -> bool:
        """Whether the read model has every table folded (one from before some has not)."""
        return self.model.recorder.has_history() and self.model.recorder.has_books()

    async def _renewed(self) -> bool:
        """Renew the lease when due; a database that cannot be reached is not a lost lease
        (the check before the next publish decides)."""
        try:
            return await self._leading()
        except Exception:
            log.warning("could not renew the lease; checking again before publishing")
            return True

    async def _leading(self) -> bool:
        """Whether this projector still holds the lease (``Lease.keep``), off the event loop
        only when the database must be asked."""
        return self.lease.fresh() or await asyncio.to_thread(self.lease.keep)

    async def _step(self) -> bool:
        """Project one page, and when it is full fold the next one meanwhile; returns whether
        another is waiting right after it.

        Behind the log (a full page), the page in hand is published and committed while the
        next is read and folded on top of it (PostgreSQL's work for a page and the broker's
        acknowledgements are waits, the fold is Python: the two overlap). Nothing of the next
        page leaves before this one is committed, and if this one fails, the next is dropped
        and read again. Caught up, the next page is read after the commit: read ahead, it
        would hold only what arrived meanwhile, and many small pages cost more than a few
        large ones (BENCHMARKS.md, issue 26)."""
        current = self._ahead or await self._prepare(self.position, None)
        self._ahead = None
        if current is None:
            return False
        emitting = asyncio.create_task(self._emit(current))
        ahead = None
        try:
            if current.page.full:  # behind: the next page is waiting, and as large
                ahead = await self._prepare(current.page.last_id, current, ahead=True)
        finally:
            committed = await emitting  # LeaseLost goes up from here
        if not committed:
            return False
        self._ahead = ahead
        return current.page.full or ahead is not None

    async def _prepare(
        self, after: int, base: Folded | None, *, ahead: bool = False
    ) -> Folded | None:
        """The page after notification ``after`` read and folded, on top of ``base`` (the
        page before it, not yet committed); None if there is none (or it could not be read).
        Reading ahead, a failure is left for the page's own turn."""
        started = time.perf_counter()
        quarantined = self.quarantined | base.projected.quarantined if base else self.quarantined
        try:
            page = await asyncio.to_thread(self.reader.read, after)
            if not page.items:
                return None
            loaded, repaired = await asyncio.to_thread(
                self._entries, page, base.projected.entries if base else None, quarantined
            )
        except Exception as error:
            if ahead:
                return None
            if isinstance(error, UnreadableEvent):
                raise
            log.exception("could not read after notification %d; retrying", after)
            await self._recover()
            return None
        read = time.perf_counter()
        events = [recorded for _, recorded in page.items]
        projected = project(loaded, events, self.rules, quarantined, self.names)
        for account_id, reason in projected.quarantined.items():
            log.error("QUARANTINED %s: cannot fold its event (%s)", account_id, reason)
            repaired.pop(account_id, None)
        projected.entries = {**repaired, **projected.entries}
        messages = projected.messages()
        return Folded(after, page, projected, messages, started, read, time.perf_counter())

    async def _emit(self, folded: Folded) -> bool:
        """Publish the folded page, then commit it and the position after it; whether it was
        committed (if not, the projector goes back to the stored position)."""
        page, projected, messages = folded.page, folded.projected, folded.messages
        try:
            folded_at = time.perf_counter()
            if not await self._leading():
                raise LeaseLost
            kept = time.perf_counter()
            await self._publish(projected.published(messages), projected.alerts)
            published = time.perf_counter()
            await asyncio.to_thread(
                self.model.save,
                [(entry, messages[a]) for a, entry in projected.entries.items()],
                folded.after,
                page.last_id,
                projected.quarantined,
                projected.history,
                projected.periods,
                projected.usage,
            )
        except LeaseLost:
            raise
        except Exception:
            log.exception("page after notification %d not committed; retrying", folded.after)
            await self._recover()
            return False
        waited = folded_at - folded.folded  # the page was folded ahead: not its cost
        metrics.paged(
            folded.started, folded.read, folded.folded, kept - waited, published - waited,
            time.perf_counter() - waited,
        )  # fmt: skip
        for account_id in projected.quarantined:
            self._cache.pop(account_id, None)
        self._remember(projected.entries.items())
        self.quarantined |= projected.quarantined
        self.position = page.last_id
        self.batches_committed += 1
        self.events_projected += len(page.items)
        return True

    def _entries(
        self,
        page: Page,
        newer: Mapping[str, Entry] | None = None,
        quarantined: Collection[str] | None = None,
    ) -> tuple[dict[str, Entry], dict[str, Entry]]:
        """The page's accounts as stored (``newer``: the page before it, not committed yet;
        then cached or read), and any rebuilt from their streams because their row could not
        be read (a derived row is never worth stopping for)."""
        newer = newer or {}
        skipped = self.quarantined if quarantined is None else quarantined
        ids = list(dict.fromkeys(recorded.originator_id for _, recorded in page.items))
        ids = [a for a in ids if a not in skipped]
        # One ``get`` each: the event loop may be caching the page before (``_remember``)
        # while this runs in a worker thread.
        entries = {a: e for a in ids if (e := newer.get(a) or self._cache.get(a)) is not None}
        missing = [a for a in ids if a not in entries]
        if not missing:
            return entries, {}
        found, unreadable = self.model.entries(missing)
        entries.update(found)
        repaired = {}
        for account_id, reason in unreadable.items():
            log.error("row of %s unreadable (%s); rebuilt from its stream", account_id, reason)
            view, books = BalanceView(account_id), finance.Books()
            try:
                for recorded in self.ledger.stream(account_id):
                    view = fold(view, recorded)
                    books = finance.fold(books, recorded.event)
            except Exception:  # left to ``project``, which quarantines the account
                log.exception("could not rebuild the row of %s", account_id)
                continue
            alerts = quiet_alerts(view, self.rules)
            repaired[account_id] = entries[account_id] = Entry(view, alerts, books)
        return entries, repaired

    async def _publish(self, updates: list[BalanceUpdated], alerts: list[BalanceAlert]) -> None:
        assert self._producer is not None
        topics = self.settings.topic
        messages: list[tuple[str, str, BalanceUpdated | BalanceAlert]] = [
            (topics["balances"], u.account_id, u) for u in updates
        ]
        messages += [(topics["alerts"], a.account_id, a) for a in alerts]
        await publish(
            self._producer,
            ((topic, key.encode(), encoded(m)) for topic, key, m in messages),
        )

    async def _recover(self) -> None:
        """Forget what is cached or folded ahead and go back to the stored position."""
        self._cache.clear()
        self._ahead = None
        await asyncio.sleep(self.settings.projector_retry_delay_ms / 1000)
        with contextlib.suppress(Exception):
            self.position = await asyncio.to_thread(self.model.position)

    def _remember(self, entries: Iterable[tuple[str, Entry]]) -> None:
        for account_id, entry in entries:
            self._cache[account_id] = entry
            self._cache.move_to_end(account_id)
        while len(self._cache) > self.settings.projector_cache_accounts:
            self._cache.popitem(last=False)


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()
