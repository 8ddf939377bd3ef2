"""The balances feed: a fetch from the topic that failed and then recovered re-reads every
account with an open stream (records may have been missed while the topic was away)."""

import asyncio

from services.api.feed import BalanceFeed
from services.api.hub import BalanceHub
from services.settings import Settings


class FailsOnce:
    """A consumer whose first fetch fails, as when the connection to the broker is lost."""

    def __init__(self) -> None:
        self.fetches = 0

    async def getmany(self, timeout_ms: int):
        self.fetches += 1
        if self.fetches == 1:
            raise ConnectionError("the broker went away")
        await asyncio.sleep(0.01)  # a quiet topic
        return {}


async def test_a_feed_that_recovers_from_a_failed_fetch_re_reads_the_open_accounts_once():
    hub = BalanceHub(10)
    rereads = []
    hub.reread_all = lambda: rereads.append(hub.streams())  # type: ignore[method-assign]
    feed = BalanceFeed(Settings(), hub)
    feed._tail.consumer = FailsOnce()  # type: ignore[assignment]
    hub.subscribe("acct-1")

    reading = feed._tail.read()
    await asyncio.sleep(0.5)  # the retry comes after 0.1 s, then quiet fetches
    reading.cancel()

    assert rereads == [1] and feed._tail.errors == 1
