"""The fan-out of balance updates: every stream gets the newest balance, never an older one,
and the read model is read only when a stream opens or something may have been missed."""

import asyncio
from datetime import UTC, datetime

from events.balances import BalanceUpdated
from services.api.hub import BalanceHub
from services.api.streams import Heartbeats, Waker
from tests.unit.api.accounts import account_after
from tests.unit.core.scenario import ACCOUNT, renewed

T = datetime(2026, 11, 1, tzinfo=UTC)


def update(version: int, total: int = 100, account_id: str = "acct-1") -> BalanceUpdated:
    return BalanceUpdated(
        account_id=account_id,
        version=version,
        subscription=total,
        purchased=0,
        granted=0,
        held=0,
        total=total,
        plan="solo",
        plan_credits=980,
        billing_interval="monthly",
        pending_plan=None,
        cycle_end=None,
        subscription_expires_at=None,
        updated_at=T,
    )


async def test_every_stream_of_the_account_gets_the_update_and_other_accounts_none():
    hub = BalanceHub(recent_accounts=10)
    mine, also_mine, theirs = hub.subscribe("acct-1"), hub.subscribe("acct-1"), hub.subscribe("b")

    hub.publish(update(3, 70))

    assert (await mine.next(1)).total == 70
    assert (await also_mine.next(1)).total == 70
    assert await theirs.next(0.01) is None


async def test_a_stale_or_repeated_version_is_dropped():
    hub = BalanceHub(recent_accounts=10)
    stream = hub.subscribe("acct-1")
    hub.publish(update(5, 50))
    assert (await stream.next(1)).version == 5

    hub.publish(update(5, 50))  # at-least-once: the same again
    hub.publish(update(4, 60))  # older, arriving late

    assert await stream.next(0.01) is None


async def test_a_slow_stream_gets_only_the_newest_of_what_it_missed():
    hub = BalanceHub(recent_accounts=10)
    stream = hub.subscribe("acct-1")

    for version in (2, 3, 4):
        hub.publish(update(version, 100 - version))

    assert (await stream.next(1)).version == 4
    assert await stream.next(0.01) is None


async def test_a_new_stream_starts_from_the_latest_update_seen_even_if_the_read_model_is_older():
    hub = BalanceHub(recent_accounts=10)
    hub.publish(update(7, 30))  # published, not yet committed to the read model

    stream = hub.subscribe("acct-1")
    offered_from_read_model = stream.offer(update(6, 40))

    assert offered_from_read_model is False
    assert (await stream.next(1)).version == 7


async def test_only_the_most_recently_changed_accounts_are_remembered():
    hub = BalanceHub(recent_accounts=2)
    for n, account in enumerate(["a", "b", "c"], start=1):
        hub.publish(update(n, account_id=account))

    assert await hub.subscribe("a").next(0.01) is None
    assert (await hub.subscribe("c").next(1)).version == 3


async def test_an_unsubscribed_stream_is_forgotten():
    hub = BalanceHub(recent_accounts=10)
    first, second = hub.subscribe("acct-1"), hub.subscribe("acct-1")

    hub.unsubscribe(first)
    hub.unsubscribe(first)  # twice is harmless

    assert (hub.streams("acct-1"), hub.streams()) == (1, 1)
    hub.unsubscribe(second)
    assert hub.streams() == 0


async def test_closing_the_hub_ends_every_stream_and_any_opened_after():
    hub = BalanceHub(recent_accounts=10)
    stream = hub.subscribe("acct-1")
    waiting = asyncio.create_task(stream.next(60))

    hub.close()
    late = hub.subscribe("acct-1")

    assert await waiting is None and stream.closed
    assert late.closed and await late.next(60) is None


class CountedReads:
    """The read model with one opened account; every query is noted."""

    def __init__(self) -> None:
        self.opened, _ = account_after(renewed("solo"))
        self.queries: list[list[str]] = []

    async def views(self, account_ids):
        self.queries.append(sorted(account_ids))
        return {ACCOUNT: self.opened} if ACCOUNT in account_ids else {}


async def opened_stream(hub: BalanceHub):
    stream = hub.subscribe(ACCOUNT)
    view = await hub.current(ACCOUNT)
    assert (await stream.next(1)).version == view.version
    return stream, view.version


async def test_an_idle_stream_reads_nothing_more_and_gets_only_heartbeats():
    reads = CountedReads()
    hub = BalanceHub(10, reads, heartbeat_s=0.05)
    stream, _ = await opened_stream(hub)

    beats = [await stream.next(1) for _ in range(5)]  # a quarter of a second, idle

    assert beats == [None] * 5 and not stream.closed
    assert reads.queries == [[ACCOUNT]]  # the one read of the open
    hub.close()


async def test_the_heartbeats_of_10000_streams_never_come_more_than_67_at_once():
    """10,000 streams beaten in 10 slices made the loop write 1,000 frames at once every 1.5 s,
    a pause every stream's balances waited out."""
    heartbeats = Heartbeats(every_s=15.0)
    streams = [Waker() for _ in range(10_000)]
    for stream in streams:
        heartbeats.add(stream)

    beaten_at_once = [len(beaten) for beaten in heartbeats._slices]

    assert max(beaten_at_once) <= 67 and sum(beaten_at_once) == 10_000
    heartbeats.stop()


async def test_streams_that_open_in_the_same_tick_share_one_read_of_the_read_model():
    reads = CountedReads()
    hub = BalanceHub(10, reads)
    accounts = [ACCOUNT, *(f"acct-other-{n}" for n in range(199))]
    streams = [hub.subscribe(account) for account in accounts]

    views = await asyncio.gather(*(hub.current(account) for account in accounts))

    assert reads.queries == [sorted(accounts)]
    assert views[0] is reads.opened and views[1:] == [None] * 199  # unknown: the route's 404
    assert (await streams[0].next(1)).version == reads.opened.version
    hub.close()


async def test_a_version_past_the_next_one_known_re_reads_the_account_once():
    reads = CountedReads()
    hub = BalanceHub(10, reads)
    stream, known = await opened_stream(hub)

    hub.publish(update(known + 1, account_id=ACCOUNT))  # the next one: no read
    await asyncio.sleep(0.1)
    hub.publish(update(known + 3, account_id=ACCOUNT))  # one missed: read again
    hub.publish(update(known + 4, account_id=ACCOUNT))
    await asyncio.sleep(0.1)

    assert reads.queries == [[ACCOUNT], [ACCOUNT]]
    assert (await stream.next(1)).version == known + 4  # the older row is dropped by version
    hub.close()


async def test_a_feed_that_lost_the_topic_re_reads_every_account_with_an_open_stream_at_once():
    reads = CountedReads()
    hub = BalanceHub(10, reads)
    await opened_stream(hub)
    hub.subscribe("acct-b")
    hub.subscribe("acct-c")
    await asyncio.sleep(0.1)
    reads.queries.clear()

    hub.reread_all()
    await asyncio.sleep(0.1)

    assert reads.queries == [[ACCOUNT, "acct-b", "acct-c"]]
    hub.close()


async def test_a_stream_that_never_reads_does_not_hold_up_the_others():
    hub = BalanceHub(recent_accounts=10)
    hub.subscribe("acct-1")  # its browser reads nothing
    fast = hub.subscribe("acct-1")

    delivered = []
    for version in range(1, 101):
        hub.publish(update(version))
        delivered.append((await fast.next(1)).version)

    assert delivered == list(range(1, 101))
