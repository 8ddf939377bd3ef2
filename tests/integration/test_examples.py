"""The examples, run as ``make run`` would serve them but against the test ledger: the AI worker
settles every job's real cost once, and the billing feed renews monthly and yearly plans on
their boundaries and sells packages, each run a second time without a second charge."""

from __future__ import annotations

from datetime import date, timedelta

from events.ledger import CycleStarted, PackagePurchased
from examples import ai_worker, billing_feed
from services.ledger.core import balance, replay
from tests.integration.client_ways import bought, stored
from tests.integration.conftest_projections import folded


async def test_the_ai_worker_settles_each_jobs_real_cost_once_even_when_rerun(
    ledger, projector, client, store_settings
):
    opened = await bought(client, "acct-worker")  # 1,000 purchased credits
    assert opened.stream_version is not None
    await folded(projector, "acct-worker", opened.stream_version)  # can_afford reads it

    done = await ai_worker.run(store_settings, "acct-worker", 4, generate_s=0.05, run_id="r1")
    again = await ai_worker.run(store_settings, "acct-worker", 4, generate_s=0.05, run_id="r1")

    assert [d.status for d in done] == ["settled"] * 4
    assert all(0 < d.charged <= d.reserved for d in done)
    assert all(d.repeat for d in again)
    assert sorted(d.charged for d in again) == sorted(d.charged for d in done)
    marker = await client.use_tool("acct-worker", "keyword_suggestions")
    names = await stored(ledger, marker)
    assert (names.count("CreditsReserved"), names.count("HoldSettled")) == (4, 4)
    figures = balance(replay(r.event for r in ledger.ledger.store.stream("acct-worker")))
    assert (figures.held, figures.total) == (0, 1000 - sum(d.charged for d in done) - 1)


async def test_the_ai_worker_skips_work_an_account_cannot_afford(ledger, projector, store_settings):
    done = await ai_worker.run(store_settings, "acct-worker-none", 2, generate_s=0.01)

    assert [d.status.split(":")[0] for d in done] == ["skipped"] * 2


async def test_the_billing_feed_renews_monthly_and_yearly_plans_and_sells_packages(
    ledger, store_settings
):
    subscriptions = [
        billing_feed.Subscription("acct-bill-m", "solo", "monthly", 31),
        billing_feed.Subscription("acct-bill-y", "business", "yearly", 15),
    ]

    ended = await billing_feed.run(store_settings, subscriptions, start=date(2026, 1, 1), months=3)
    again = await billing_feed.run(store_settings, subscriptions, start=date(2026, 1, 1), months=3)

    assert [(o.status, o.repeat) for _, o in ended] == [("accepted", False)] * (3 * 2 + 3)
    assert [(o.status, o.repeat) for _, o in again] == [("accepted", True)] * (3 * 2 + 3)
    last = {outcome.account_id: outcome for _, outcome in ended}
    for outcome in last.values():
        await stored(ledger, outcome)
    events = {account: [r.event for r in ledger.ledger.store.stream(account)] for account in last}
    cycles = {
        account: [e for e in stream if isinstance(e, CycleStarted)]
        for account, stream in events.items()
    }
    assert [(c.plan, c.billing_interval, c.credits) for c in cycles["acct-bill-y"]] == [
        ("business", "yearly", 2200)
    ] * 3
    assert [c.cycle_start.day for c in cycles["acct-bill-m"]] == [31, 28, 31]  # Jan, Feb, Mar
    assert all(c.cycle_end - c.cycle_start <= timedelta(days=31) for c in cycles["acct-bill-m"])
    sold = [e for stream in events.values() for e in stream if isinstance(e, PackagePurchased)]
    assert sorted(e.package for e in sold) == ["large", "medium", "small"]
