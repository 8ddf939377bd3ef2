"""Fan-out of balance updates to the open streams of one API process.

Streams are kept per account (account → its open streams); an update from the balances topic
is offered to that account's streams and nobody else's. Each stream has a mailbox of one: a
newer update replaces the one waiting, and anything at or below the version already delivered
or waiting is dropped. A balance is a whole figure, not a delta, so skipping intermediate
versions loses nothing, and a slow browser never makes the hub wait or grow.

The read model is read only when a stream opens and when something may have been missed,
never on a timer: the reads of the streams opening within one tick are one query (``IN``), a
version that jumps past the last one known re-reads that account once, and a feed that lost
its connection to the topic re-reads every account with an open stream. The hub also
remembers the latest update per recently changed account (bounded): the projector publishes
before it commits the read model, so a stream that opens in between would otherwise start from
the older row and miss the newer message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Protocol

from events.balances import BalanceUpdated
from projections.balance import BalanceView
from services.api.streams import Heartbeats, Waker

log = logging.getLogger("kalema.api")
READ_TICK_S = 0.02  # the opens of this long are read together
READ_RETRY_S = 1.0  # a failed re-read is tried again after this long


class Views(Protocol):
    async def views(self, account_ids: list[str]) -> dict[str, BalanceView]: ...


class Subscription(Waker):
    """One open stream of one account's balance."""

    __slots__ = ("_waiting", "account_id", "delivered")

    def __init__(self, account_id: str) -> None:
        super().__init__()
        self.account_id = account_id
        self.delivered = 0  # version of the last update handed out
        self._waiting: BalanceUpdated | None = None

    def offer(self, update: BalanceUpdated) -> bool:
        """Keep ``update`` if it is newer than what was delivered or is waiting."""
        assert update.account_id == self.account_id, (update.account_id, self.account_id)
        newest = self._waiting.version if self._waiting else self.delivered
        if update.version <= newest:
            return False
        self._waiting = update
        self.wake()
        return True

    async def next(self, timeout_s: float | None = None) -> BalanceUpdated | None:
        """The newest update not yet delivered; None if the stream was closed, a heartbeat is
        due (nothing to send but that), or nothing came within ``timeout_s``."""
        while await self.wait(timeout_s) and not self.closed:
            update, self._waiting = self._waiting, None
            if update is not None:
                assert update.version > self.delivered
                self.delivered, self.beat_due = update.version, False
                return update
            if self.beat_due:
                self.beat_due = False
                return None
        return None


class BalanceHub:
    def __init__(
        self, recent_accounts: int, reads: Views | None = None, heartbeat_s: float = 15.0
    ) -> None:
        assert recent_accounts > 0
        self.recent_accounts, self.reads = recent_accounts, reads
        self.closed = False
        self.heartbeats = Heartbeats(heartbeat_s)
        self.reads_made = 0  # queries of the read model so far (each for many accounts)
        self._streams: dict[str, set[Subscription]] = {}
        self._known: dict[str, int] = {}  # highest version offered, per account with streams
        self._latest: OrderedDict[str, BalanceUpdated] = OrderedDict()
        self._wanted: dict[str, list[asyncio.Future[BalanceView | None]]] = {}
        self._due = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    def subscribe(self, account_id: str) -> Subscription:
        subscription = Subscription(account_id)
        if self.closed:
            subscription.close()
            return subscription
        self._streams.setdefault(account_id, set()).add(subscription)
        self.heartbeats.add(subscription)
        latest = self._latest.get(account_id)
        if latest is not None:
            subscription.offer(latest)
            self._know(latest)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.heartbeats.discard(subscription)
        streams = self._streams.get(subscription.account_id)
        if streams is not None:
            streams.discard(subscription)
            if not streams:
                del self._streams[subscription.account_id]
                self._known.pop(subscription.account_id, None)

    async def current(self, account_id: str) -> BalanceView | None:
        """The account's row of the read model, read with those of every stream opening in
        the same tick; its balance is also offered to the account's open streams."""
        future: asyncio.Future[BalanceView | None] = asyncio.get_running_loop().create_future()
        self._want(account_id).append(future)
        return await future

    def reread(self, account_id: str) -> None:
        """Read the account again at the next tick, for its open streams."""
        if self.reads is not None and account_id in self._streams:
            self._want(account_id)

    def reread_all(self) -> None:
        """Read every account with an open stream again (the topic may have been missed)."""
        for account_id in list(self._streams):
            self.reread(account_id)

    def publish(self, update: BalanceUpdated) -> None:
        """An update from the balances topic: remembered if newest, offered to the account's
        streams; a version past the next one known re-reads the account once."""
        account_id = update.account_id
        if update.supersedes(self._latest.get(account_id)):
            self._latest[account_id] = update
            self._latest.move_to_end(account_id)
            while len(self._latest) > self.recent_accounts:
                self._latest.popitem(last=False)
        if account_id not in self._streams:
            return
        known = self._known.get(account_id, 0)
        if known and update.version > known + 1:
            self.reread(account_id)
        self._offer(update)

    def close(self) -> None:
        """End every stream (the server is stopping); browsers reconnect by themselves."""
        self.closed = True
        for streams in self._streams.values():
            for subscription in streams:
                subscription.close()
        self.heartbeats.stop()
        if self._reader is not None:
            self._reader.cancel()
        for futures in self._wanted.values():
            for future in futures:
                future.cancel()

    def streams(self, account_id: str | None = None) -> int:
        """How many streams are open (for one account, or in all)."""
        if account_id is not None:
            return len(self._streams.get(account_id, ()))
        return sum(len(s) for s in self._streams.values())

    def _offer(self, update: BalanceUpdated) -> None:
        self._know(update)
        for subscription in self._streams.get(update.account_id, ()):
            subscription.offer(update)

    def _know(self, update: BalanceUpdated) -> None:
        if update.version > self._known.get(update.account_id, 0):
            self._known[update.account_id] = update.version

    def _want(self, account_id: str) -> list[asyncio.Future[BalanceView | None]]:
        assert self.reads is not None, "a hub without a read model reads nothing"
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_ticks(self.reads))
        self._due.set()
        return self._wanted.setdefault(account_id, [])

    async def _read_ticks(self, reads: Views) -> None:
        while True:
            await self._due.wait()
            await asyncio.sleep(READ_TICK_S)  # let the opens of this tick gather
            self._due.clear()
            wanted, self._wanted = self._wanted, {}
            try:
                views = await reads.views(list(wanted))
            except Exception as error:
                log.exception("reading %d balances failed", len(wanted))
                for futures in wanted.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                await asyncio.sleep(READ_RETRY_S)
                for account_id in wanted:
                    self.reread(account_id)
                continue
            self.reads_made += 1
            self._deliver(wanted, views)

    def _deliver(
        self,
        wanted: dict[str, list[asyncio.Future[BalanceView | None]]],
        views: dict[str, BalanceView],
    ) -> None:
        for account_id, futures in wanted.items():
            view = views.get(account_id)
            if view is not None and view.account.opened:
                self._offer(view.message())
            for future in futures:
                if not future.done():
                    future.set_result(view)
