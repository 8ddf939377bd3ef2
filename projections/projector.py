"""The balance projector: follows the ledger's log, folds it, publishes, then commits.

Per page of whole commands: fold (pure), publish every changed balance and every alert and
wait for the broker's acknowledgements, then commit the rows and the position in one
transaction. Publishing before the commit makes delivery at-least-once: a crash in between
re-reads the page from the stored position and publishes the same versions again (consumers
drop them by ``version``, alerts by ``alert_id``); publishing after the commit could lose an
update for good. A failed publish or commit is retried from the stored position; an event
that cannot be decoded or folded stops the projector with the event named, because skipping
it would make every later figure of that account wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from projections.balance import BalanceView, fold
from projections.batch import Entry, Projected, project, quiet_alerts
from projections.follow import LogReader, Page, UnreadableEvent, Wakeup
from projections.settings import ProjectorSettings
from projections.store import BalanceReadModel
from services.kafka_security import client_security
from services.ledger.store import LedgerStore

log = logging.getLogger("kalema.projector")
HEADERS = [("content-type", b"application/json")]


class ProjectionFailed(RuntimeError):
    """Stored events that cannot be folded: the projector stops rather than publish a guess."""


class Projector:
    def __init__(self, settings: ProjectorSettings) -> None:
        self.settings = settings
        self.ledger, self.model = _open(settings)
        self.reader = LogReader(self.ledger, settings.projector_batch_max_events)
        self.rules = settings.alert_rules()
        self.position = 0
        self.batches_committed = 0
        self.events_projected = 0
        self.started = asyncio.Event()
        self._cache: OrderedDict[str, Entry] = OrderedDict()
        self._producer: AIOKafkaProducer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the log until ``stop`` is set; the page in hand is finished first."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            client_id="kalema-projector",
            **client_security(self.settings),
            acks="all",
            enable_idempotence=True,
        )
        await self._producer.start()
        wake = asyncio.Event()
        waker = asyncio.create_task(_set_when(stop, wake))
        wakeup = Wakeup(self.ledger, wake)
        try:
            self.position = await asyncio.to_thread(self.model.position)
            log.info("projecting the ledger's log from notification %d", self.position)
            self.started.set()
            while not stop.is_set():
                wake.clear()
                if await self._step():
                    continue  # more is waiting
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.poll_interval_s()):
                        await wake.wait()
        finally:
            waker.cancel()
            await asyncio.to_thread(wakeup.close)
            await self._producer.stop()

    def close(self) -> None:
        self.ledger.close()

    async def _step(self) -> bool:
        """Project one page; returns whether another is waiting right after it."""
        try:
            page = await asyncio.to_thread(self.reader.read, self.position)
            if not page.items:
                return False
            loaded, repaired = await asyncio.to_thread(self._entries, page)
        except UnreadableEvent:
            raise
        except Exception:
            log.exception("could not read after notification %d; retrying", self.position)
            await self._recover()
            return False
        try:
            projected = project(loaded, [recorded for _, recorded in page.items], self.rules)
        except Exception as error:
            first, last = page.items[0][0], page.last_id
            raise ProjectionFailed(
                f"cannot fold notifications {first}..{last}: {error!r}"
            ) from error
        projected.entries = {**repaired, **projected.entries}
        try:
            await self._publish(projected)
            await asyncio.to_thread(
                self.model.save, projected.entries.values(), self.position, page.last_id
            )
        except Exception:
            log.exception("page after notification %d not committed; retrying", self.position)
            await self._recover()
            return False
        self._remember(projected.entries.items())
        self.position = page.last_id
        self.batches_committed += 1
        self.events_projected += len(page.items)
        return page.full

    def _entries(self, page: Page) -> tuple[dict[str, Entry], dict[str, Entry]]:
        """The page's accounts as stored (cached or read), and any rebuilt from their streams
        because their row could not be read (a derived row is never worth stopping for)."""
        ids = list(dict.fromkeys(recorded.originator_id for _, recorded in page.items))
        entries = {a: self._cache[a] for a in ids if a in self._cache}
        missing = [a for a in ids if a not in entries]
        if not missing:
            return entries, {}
        found, unreadable = self.model.entries(missing)
        entries.update(found)
        repaired = {}
        for account_id, reason in unreadable.items():
            log.error("row of %s unreadable (%s); rebuilt from its stream", account_id, reason)
            view = BalanceView(account_id)
            for recorded in self.ledger.stream(account_id):
                view = fold(view, recorded)
            repaired[account_id] = entries[account_id] = Entry(view, quiet_alerts(view, self.rules))
        return entries, repaired

    async def _publish(self, projected: Projected) -> None:
        assert self._producer is not None
        topics = self.settings.topic
        messages: list[tuple[str, str, BaseModel]] = [
            (topics["balances"], u.account_id, u) for u in projected.updates
        ]
        messages += [(topics["alerts"], a.account_id, a) for a in projected.alerts]
        sent = [
            await self._producer.send(
                topic, m.model_dump_json().encode(), key=key.encode(), headers=HEADERS
            )
            for topic, key, m in messages
        ]
        await asyncio.gather(*sent)

    async def _recover(self) -> None:
        """Forget what is cached and go back to the stored position."""
        self._cache.clear()
        await asyncio.sleep(self.settings.projector_retry_delay_ms / 1000)
        with contextlib.suppress(Exception):
            self.position = await asyncio.to_thread(self.model.position)

    def _remember(self, entries: Iterable[tuple[str, Entry]]) -> None:
        for account_id, entry in entries:
            self._cache[account_id] = entry
            self._cache.move_to_end(account_id)
        while len(self._cache) > self.settings.projector_cache_accounts:
            self._cache.popitem(last=False)


def _open(settings: ProjectorSettings, attempts: int = 5) -> tuple[LedgerStore, BalanceReadModel]:
    """The ledger's store and the read model, created if missing. Retried a few times: on a
    fresh PostgreSQL schema the ledger may be creating its tables at the same instant."""
    for attempt in range(1, attempts + 1):
        ledger = None
        try:
            ledger = LedgerStore(settings)
            return ledger, BalanceReadModel(ledger)
        except Exception:
            if ledger is not None:
                ledger.close()
            if attempt == attempts:
                raise
            log.warning("could not open the store (attempt %d); retrying", attempt, exc_info=True)
            time.sleep(1.0)
    raise AssertionError("unreachable")


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()
