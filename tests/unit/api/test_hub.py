"""The fan-out of balance updates: every stream gets the newest balance, never an older one."""

import asyncio
from datetime import UTC, datetime

from events.balances import BalanceUpdated
from services.api.hub import BalanceHub

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
