"""Automatic top-ups end to end, on the real broker and both stores: a card saved at the test
provider's setup page, the rule turned on over HTTP, a use that crosses the threshold, the
top-up process charging it off-session, the package arriving through the webhook. Asked
twice (a process that re-reads the log) and told twice (a webhook redelivered), it is still
one charge and one package."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from pydantic import SecretStr

from events.ledger import PackagePurchased, TopUpFailed, TopUpRequested
from services.payments.testmode import TestPaymentProvider
from services.topup.charges import TestProviderCharges
from services.topup.service import TopUps
from services.topup.settings import TopUpSettings
from tests.integration.conftest_api import (  # noqa: F401  (api)
    WEBHOOK_SECRET,
    api_fixture,
    open_account,
)


def top_up_settings(store_settings, api) -> TopUpSettings:
    return TopUpSettings(
        **store_settings.model_dump(),
        payments_webhook_secret=SecretStr(WEBHOOK_SECRET),
        topup_test_provider_url=api.url,
        topup_poll_s=0.05,
    )


@asynccontextmanager
async def running_top_ups(settings: TopUpSettings) -> AsyncIterator[TopUps]:
    top_ups = TopUps(settings, TestProviderCharges(settings.topup_test_provider_url))
    stop = asyncio.Event()
    task = asyncio.create_task(top_ups.run(stop))
    try:
        yield top_ups
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        top_ups.close()


async def saved_card(api, account_id: str, token: str, card: str = "visa") -> None:
    async with api.client(token) as http:
        setup = await http.post(f"/accounts/{account_id}/card-setups")
        assert setup.status_code == 201, setup.text
        saved = await http.post(f"{setup.json()['setup_url']}/{card}")
        assert saved.status_code == 303, saved.text


async def events_until(ledger, account_id: str, found, timeout_s: float = 30):
    """The account's stored events once ``found(events)`` holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            events = [r.event for r in ledger.ledger.store.stream(account_id)]
            if found(events):
                return events
            await asyncio.sleep(0.05)


def purchases(events) -> list[PackagePurchased]:
    return [e for e in events if isinstance(e, PackagePurchased) and e.top_up is not None]


async def test_a_use_below_the_threshold_buys_one_package_though_asked_twice_and_told_twice(
    store_settings, ledger, client, api
):
    await open_account(client, "acct-a", package="small")  # 1980 credits
    await saved_card(api, "acct-a", "token-a")
    provider: TestPaymentProvider = api.app.state.payments
    settings = top_up_settings(store_settings, api)
    async with api.client("token-a") as http:
        rule = {"threshold_credits": 1500, "package": "small", "max_per_month": 2}
        configured = await http.post("/accounts/acct-a/auto-top-up", json=rule)
        assert configured.status_code == 200, configured.text
        used = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "article_generation", "units": 10}
        )
        assert used.status_code == 200, used.text  # 1480: below 1500

        async with running_top_ups(settings):
            events = await events_until(ledger, "acct-a", lambda es: purchases(es))
        request = next(e for e in events if isinstance(e, TopUpRequested))
        # A process that re-reads the log from its start asks again; the webhook comes twice.
        async with running_top_ups(settings) as again:
            await asyncio.to_thread(again.position.save, 0)
            again.active = False  # re-reads its position when it takes the lease
            await events_until(ledger, "acct-a", lambda es: True)
            async with asyncio.timeout(20):
                while request.request_id not in again.charged:
                    await asyncio.sleep(0.05)
        redelivered = provider.event("payment.succeeded", request.request_id)
        answer = await provider.deliver(api.url, redelivered)
        details = (await http.get("/accounts/acct-a")).json()

    events = [r.event for r in ledger.ledger.store.stream("acct-a")]
    assert answer.status_code == 200
    assert len(provider.charges) == 1
    assert [p.top_up for p in purchases(events)] == [request.request_id]
    assert sum(isinstance(e, TopUpRequested) for e in events) == 1
    assert details["auto_top_up"]["card_last4"] == "4242"


async def test_a_declined_card_is_recorded_and_retried_after_its_backoff(
    store_settings, ledger, client, api
):
    await open_account(client, "acct-b", package="small")
    await saved_card(api, "acct-b", "token-b", card="declining")
    settings = top_up_settings(store_settings, api)
    async with api.client("token-b") as http:
        rule = {"threshold_credits": 1500, "package": "small", "max_per_month": 2}
        assert (await http.post("/accounts/acct-b/auto-top-up", json=rule)).status_code == 200
        await http.post(
            "/accounts/acct-b/tool-uses", json={"tool": "article_generation", "units": 10}
        )
        async with running_top_ups(settings):
            events = await events_until(
                ledger, "acct-b", lambda es: any(isinstance(e, TopUpFailed) for e in es)
            )

    failed = next(e for e in events if isinstance(e, TopUpFailed))
    retry = events[-1]
    assert (failed.attempt, failed.reason) == (1, "card_declined")
    assert isinstance(retry, TopUpRequested) and retry.attempt == 2
    assert retry.not_before - retry.occurred_at == timedelta(seconds=60)
    assert purchases(events) == []
