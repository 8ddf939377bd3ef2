"""The clock on the real broker, on both stores: time alone moves the balance.

A cycle that ends a few seconds ahead: with no other command, the clock sends the ledger an
``ExpireHolds`` at the instant, the ledger records ``CreditsExpired`` (then ``ExpiryChecked``,
the command's own decision) and the projector
publishes the lower balance. The delay after the instant is printed (``-s`` shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from events.commands import CycleRenewed, ReserveCredits
from services.clock.lease import Lease
from services.clock.schedule import command_id, expiry
from services.clock.service import Clock
from services.clock.settings import ClockSettings
from services.ledger.store import LedgerStore
from services.settings import Settings
from tests.integration.conftest_projections import TopicReader

ENDS_IN_S = 3.0


def clock_settings(settings: Settings, **knobs: Any) -> ClockSettings:
    return ClockSettings(**settings.model_dump(), **knobs)


@asynccontextmanager
async def running_clock(settings: Settings, **knobs: Any) -> AsyncIterator[Clock]:
    clock = Clock(clock_settings(settings, **knobs))
    stop = asyncio.Event()
    task = asyncio.create_task(clock.run(stop))
    try:
        async with asyncio.timeout(20):
            while not clock.started.is_set():
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
        yield clock
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        clock.close()


def cycle(account_id: str, ends_at: datetime, n: str = "1") -> CycleRenewed:
    return CycleRenewed(
        command_id=f"{account_id}-cycle-{n}",
        account_id=account_id,
        occurred_at=ends_at - timedelta(days=1),
        plan="solo",
        cycle_start=ends_at - timedelta(days=1),
        cycle_end=ends_at.replace(microsecond=0) if n == "floor" else ends_at,
    )


async def expired_at(balances: TopicReader, account_id: str, version: int) -> float:
    """The wall time at which the balances topic showed the account without its allowance."""
    await balances.until(
        lambda ms: any(
            m.account_id == account_id and m.version > version and m.subscription == 0 for m in ms
        ),
        timeout_s=30,
    )
    return time.time()


async def test_a_cycle_ending_ahead_drops_the_balance_at_its_end_with_no_other_command(
    ledger, projector, client, balances, store_settings
):
    ends = datetime.now(UTC) + timedelta(seconds=ENDS_IN_S)
    async with running_clock(store_settings) as clock:
        opened = await client.submit(cycle("acct-t", ends))
        assert opened.balance.subscription == 980
        seen = await expired_at(balances, "acct-t", opened.stream_version)
    delay_s = seen - ends.timestamp()
    print(f"\n[{store_settings.event_store}] balance on Kafka {delay_s:.3f}s after cycle_end")
    assert 0 <= delay_s <= 2.0
    assert clock.sent == [("acct-t", ends)]
    events = await asyncio.to_thread(ledger.ledger.store.stream, "acct-t")
    expired, checked = events[-2].event, events[-1].event
    assert (type(expired).__name__, type(checked).__name__) == ("CreditsExpired", "ExpiryChecked")
    assert expired.command_id == checked.command_id == command_id("acct-t", ends)
    latest = balances.latest()["acct-t"]
    assert (latest.subscription, latest.total, latest.subscription_expires_at) == (0, 0, None)


async def test_a_restarted_clock_catches_up_on_what_fell_due_while_none_ran(
    ledger, projector, client, balances, store_settings
):
    ends = datetime.now(UTC) + timedelta(seconds=1)
    opened = await client.submit(cycle("acct-r", ends))
    hold = await client.submit(
        ReserveCredits(
            command_id="acct-r-hold",
            account_id="acct-r",
            occurred_at=ends - timedelta(hours=1),
            hold_id="h1",
            tool="article_generation",
            units=1,
            expires_at=ends - timedelta(minutes=1),
        )
    )
    assert hold.balance.held == 50 and opened.stream_version < hold.stream_version
    await asyncio.sleep(1.5)  # the cycle ends while no clock runs
    async with running_clock(store_settings) as clock:
        await expired_at(balances, "acct-r", hold.stream_version)
    assert clock.sent == [("acct-r", ends - timedelta(minutes=1)), ("acct-r", ends)]
    stream = await asyncio.to_thread(ledger.ledger.store.stream, "acct-r")
    assert [type(r.event).__name__ for r in stream][-4:] == [
        "HoldExpired",
        "ExpiryChecked",
        "CreditsExpired",
        "ExpiryChecked",
    ]


async def test_the_same_instant_sent_twice_records_its_expiry_once(
    ledger, projector, client, store_settings
):
    ends = datetime.now(UTC) - timedelta(seconds=1)  # already ended: both clocks would send it
    opened = await client.submit(cycle("acct-d", ends))
    first = await client.submit(expiry("acct-d", ends))
    second = await client.submit(expiry("acct-d", ends))
    assert first.events == ("CreditsExpired", "ExpiryChecked")
    assert second.repeat and second.events == ()
    assert second.stream_version == first.stream_version == opened.stream_version + 2


async def test_only_one_clock_is_active_and_a_standby_takes_over_when_it_stops(
    ledger, projector, store_settings
):
    async with running_clock(store_settings, clock_holder="first", clock_lease_ttl_s=1) as first:
        await _until(lambda: first.active)
        async with running_clock(
            store_settings, clock_holder="second", clock_lease_ttl_s=1
        ) as second:
            await asyncio.sleep(1.0)
            assert first.active and not second.active
            await _stop_renewing(first)
            await _until(lambda: second.active, timeout_s=5)


async def test_the_lease_is_taken_once_renewed_by_its_holder_and_free_once_run_out(store_settings):
    store = LedgerStore(store_settings)
    try:
        a, b = Lease(store, "a", ttl_s=10), Lease(store, "b", ttl_s=10)
        assert a.take(now_s=1000)
        assert not b.take(now_s=1001)
        assert a.take(now_s=1005)  # renewed until 1015
        assert not b.take(now_s=1014)
        assert b.take(now_s=1015)
        assert not a.take(now_s=1016)
        b.give_up()
        assert a.take(now_s=1017)
    finally:
        store.close()


async def _stop_renewing(clock: Clock) -> None:
    """As if the first clock hung: it stops renewing its lease."""
    clock._renew_at = datetime.max.replace(tzinfo=UTC)


async def _until(condition: Any, timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)
