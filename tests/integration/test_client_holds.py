"""Holds as a context manager on the real broker with a running ledger, over SQLite and
PostgreSQL, through the async client and the sync one (``either``): a hold is settled for what
the work cost, released when the work fails or is cancelled, and never doubled by a retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from events.commands import CycleRenewed
from events.refusals import InsufficientCredits, InvalidCommand
from services.client import SyncLedgerClient
from services.ledger.core import balance, replay
from tests.conftest import running_ledger
from tests.integration.client_ways import (
    bought,
    buy_command,
    open_client,
    stored,
    until_events,
)


async def test_a_hold_settles_what_the_work_cost_and_gives_the_rest_back(ledger, either):
    await bought(either, "acct-settle")  # 1,000 purchased credits

    async with either.hold("acct-settle", "article_generation", units=1) as hold:
        assert hold.reserved == 50
        outcome = await hold.settle(30)

    assert outcome.status == "accepted" and outcome.events == ("HoldSettled",)
    assert outcome.balance is not None
    assert (outcome.balance.purchased, outcome.balance.held) == (970, 0)
    assert "HoldReleased" not in await stored(ledger, outcome)


async def test_a_settle_above_the_hold_charges_only_what_was_reserved(ledger, either):
    await bought(either, "acct-over")

    async with either.hold("acct-over", "image_generation", units=1) as hold:
        outcome = await hold.settle(75)  # the work cost more than the 40 reserved

    assert outcome.balance is not None and outcome.balance.purchased == 960


async def test_a_hold_the_account_cannot_afford_is_refused_before_the_work_starts(ledger, either):
    await bought(either, "acct-poor")
    worked = False

    with pytest.raises(InsufficientCredits) as refusal:
        async with either.hold("acct-poor", "article_generation", units=21):  # 1,050
            worked = True

    assert not worked
    assert refusal.value.details["required"] == 1050
    assert refusal.value.details["available"] == 1000


async def test_an_exception_in_the_work_releases_the_hold(ledger, either):
    await bought(either, "acct-fails")

    with pytest.raises(RuntimeError, match="the model crashed"):
        async with either.hold("acct-fails", "article_generation", hold_id="f") as hold:
            raise RuntimeError("the model crashed")

    assert hold.outcome is not None and hold.outcome.events == ("HoldReleased",)
    assert (await stored(ledger, hold.outcome))[-1] == "HoldReleased"
    assert held_and_purchased(ledger, "acct-fails") == (0, 1000)


async def test_leaving_the_block_without_settling_releases_the_hold(ledger, either):
    await bought(either, "acct-idle")

    async with either.hold("acct-idle", "image_generation", units=2) as hold:
        pass

    assert (await stored(ledger, hold.outcome))[-1] == "HoldReleased"


async def test_a_cancelled_worker_releases_its_hold(ledger, client):
    await bought(client, "acct-cancel")
    working = asyncio.Event()

    async def job() -> None:
        async with client.hold("acct-cancel", "article_generation", hold_id="job-c"):
            working.set()
            await asyncio.sleep(3600)  # a long generation

    task = asyncio.create_task(job())
    await asyncio.wait_for(working.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await until_events(ledger, "acct-cancel", lambda names: "HoldReleased" in names)
    assert held_and_purchased(ledger, "acct-cancel") == (0, 1000)


async def test_a_worker_cancelled_twice_while_releasing_still_releases(ledger, client):
    await bought(client, "acct-twice")
    working = asyncio.Event()

    async def job() -> None:
        try:
            async with client.hold("acct-twice", "article_generation"):
                working.set()
                await asyncio.sleep(3600)
        finally:
            working.clear()

    task = asyncio.create_task(job())
    await asyncio.wait_for(working.wait(), 20)
    task.cancel()
    await asyncio.sleep(0)  # the block is leaving, its release under way
    task.cancel()  # and the shutdown cancels again
    with pytest.raises(asyncio.CancelledError):
        await task

    await until_events(ledger, "acct-twice", lambda names: "HoldReleased" in names)


async def test_a_retried_hold_and_settle_are_charged_once(ledger, either):
    await bought(either, "acct-retry")

    for attempt in range(2):  # the job runs again with its hold id (a worker's retry)
        async with either.hold("acct-retry", "article_generation", hold_id="job-7") as hold:
            first = await hold.settle(30)
            again = await hold.settle(30)  # a settle sent twice
        assert hold.reserve_outcome is not None
        assert hold.reserve_outcome.repeat is (attempt == 1)
        assert again.repeat and again.stream_version == first.stream_version

    names = await stored(ledger, first)
    assert (names.count("CreditsReserved"), names.count("HoldSettled")) == (1, 1)
    assert held_and_purchased(ledger, "acct-retry") == (0, 970)


async def test_a_hold_longer_than_the_catalog_allows_is_refused(ledger, either):
    await bought(either, "acct-long")

    with pytest.raises(InvalidCommand) as refusal:
        async with either.hold("acct-long", "image_generation", hold_for=timedelta(hours=25)):
            pass

    assert refusal.value.details["max_hold_hours"] == 24
    names = await until_events(ledger, "acct-long", lambda names: "CommandRefused" in names)
    assert "CreditsReserved" not in names


def held_and_purchased(ledger, account_id: str) -> tuple[int, int]:
    """What the stored events leave held and purchased, replayed with the core's fold."""
    figures = balance(replay(r.event for r in ledger.ledger.store.stream(account_id)))
    return figures.held, figures.purchased


async def test_an_interrupted_sync_worker_releases_its_hold(ledger, store_settings):
    await bought_with_sync(store_settings, "acct-ctrl-c")

    def job() -> str:
        with SyncLedgerClient(store_settings, timeout_s=20) as ledger_client:
            try:
                with ledger_client.hold("acct-ctrl-c", "article_generation", hold_id="k"):
                    raise KeyboardInterrupt  # Ctrl-C in a script, a Celery worker's shutdown
            except KeyboardInterrupt:
                return "interrupted"
        return "finished"

    assert await asyncio.to_thread(job) == "interrupted"
    await until_events(ledger, "acct-ctrl-c", lambda names: "HoldReleased" in names)
    assert held_and_purchased(ledger, "acct-ctrl-c") == (0, 1000)


async def bought_with_sync(settings, account_id: str) -> None:
    async with open_client("sync", settings, timeout_s=20) as ledger_client:
        await bought(ledger_client, account_id)


async def test_the_readmes_worked_example_of_a_hold(ledger, either):
    now = datetime.now(UTC)
    await either.execute(
        CycleRenewed(
            command_id="cycle",
            account_id="acct-42",
            occurred_at=now,
            plan="solo",
            cycle_start=now - timedelta(days=1),
            cycle_end=now + timedelta(days=29),
        )
    )
    await either.use_tool("acct-42", "content_analysis", 95)  # subscription 30 left
    await bought(either, "acct-42")  # purchased 1,000

    async with either.hold("acct-42", "article_generation", units=1, hold_id="job-9") as hold:
        reserved = [(d.kind, d.credits) for d in hold.reserve_outcome.charged]
        settled = await hold.settle(35)

    assert reserved == [("subscription", 30), ("purchased", 20)]
    charged = [(d.kind, d.credits) for d in settled.charged]
    assert charged == [("subscription", 30), ("purchased", 5)]
    assert settled.balance is not None
    assert (settled.balance.subscription, settled.balance.purchased) == (0, 995)


async def test_a_worker_cancelled_while_reserving_gives_the_hold_back_once_it_is_decided(
    store_settings,
):
    async with open_client("async", store_settings, timeout_s=30) as ledger_client:
        await ledger_client.send(buy_command("acct-early"))
        reserving = asyncio.create_task(
            ledger_client.hold("acct-early", "article_generation", hold_id="e").__aenter__()
        )
        await asyncio.sleep(1)  # the reserve is on its way; no ledger has decided it yet
        reserving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reserving

        async with running_ledger(store_settings) as ledger:
            names = await until_events(ledger, "acct-early", lambda n: "HoldReleased" in n)
            assert names == ["PackagePurchased", "CreditsReserved", "HoldReleased"]
            assert held_and_purchased(ledger, "acct-early") == (0, 1000)
