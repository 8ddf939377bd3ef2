"""Fan-out of balance updates to the open streams of one API process. No I/O.

Each stream has a mailbox of one: a newer update replaces the one waiting, and anything at or
below the version already delivered or waiting is dropped. A balance is a whole figure, not a
delta, so skipping intermediate versions loses nothing, and a slow browser never makes the hub
wait or grow. The hub also remembers the latest update per recently changed account (bounded):
the projector publishes before it commits the read model, so a stream that opens in between
would otherwise start from the older row and miss the newer message.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict

from events.balances import BalanceUpdated


class Subscription:
    """One open stream of one account's balance."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.delivered = 0  # version of the last update handed out
        self.closed = False
        self._waiting: BalanceUpdated | None = None
        self._ready = asyncio.Event()

    def offer(self, update: BalanceUpdated) -> bool:
        """Keep ``update`` if it is newer than what was delivered or is waiting."""
        assert update.account_id == self.account_id, (update.account_id, self.account_id)
        newest = self._waiting.version if self._waiting else self.delivered
        if update.version <= newest:
            return False
        self._waiting = update
        self._ready.set()
        return True

    def close(self) -> None:
        """End the stream: ``next`` returns None at once, now and from now on."""
        self.closed = True
        self._ready.set()

    async def next(self, timeout_s: float) -> BalanceUpdated | None:
        """The newest update not yet delivered, or None if none came within ``timeout_s`` or
        the stream was closed."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            return None
        if self.closed:
            return None
        update, self._waiting = self._waiting, None
        self._ready.clear()
        assert update is not None and update.version > self.delivered
        self.delivered = update.version
        return update


class BalanceHub:
    def __init__(self, recent_accounts: int) -> None:
        assert recent_accounts > 0
        self.recent_accounts = recent_accounts
        self.closed = False
        self._streams: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._latest: OrderedDict[str, BalanceUpdated] = OrderedDict()

    def subscribe(self, account_id: str) -> Subscription:
        subscription = Subscription(account_id)
        if self.closed:
            subscription.close()
            return subscription
        self._streams[account_id].add(subscription)
        latest = self._latest.get(account_id)
        if latest is not None:
            subscription.offer(latest)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self._streams.get(subscription.account_id)
        if streams is not None:
            streams.discard(subscription)
            if not streams:
                del self._streams[subscription.account_id]

    def publish(self, update: BalanceUpdated) -> None:
        """An update from the balances topic: remembered if newest, offered to every stream."""
        if update.supersedes(self._latest.get(update.account_id)):
            self._latest[update.account_id] = update
            self._latest.move_to_end(update.account_id)
            while len(self._latest) > self.recent_accounts:
                self._latest.popitem(last=False)
        for subscription in self._streams.get(update.account_id, ()):
            subscription.offer(update)

    def close(self) -> None:
        """End every stream (the server is stopping); browsers reconnect by themselves."""
        self.closed = True
        for streams in self._streams.values():
            for subscription in streams:
                subscription.close()

    def streams(self, account_id: str | None = None) -> int:
        """How many streams are open (for one account, or in all)."""
        if account_id is not None:
            return len(self._streams.get(account_id, ()))
        return sum(len(s) for s in self._streams.values())
