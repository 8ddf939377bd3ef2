"""Buying through Stripe, end to end on the real broker and store: the checkout is created at
Stripe (stripe-mock), and Stripe's signed webhooks, shaped as Stripe sends them, are decided
by the running ledger once per payment: delivered twice, out of order with a refund, partly
refunded twice, disputed then lost or won, and charged off-session."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from services.payments.model import Order
from tests.integration.conftest_api import open_account, running_api
from tests.integration.conftest_projections import folded
from tests.integration.conftest_stripe import stripe_mock_fixture  # noqa: F401  (stripe_mock)
from tests.unit.payments.stripe_payloads import (
    WEBHOOK_SECRET,
    body_of,
    charge,
    dispute,
    event,
    intent,
    metadata,
    session,
    signed,
)

PATH = "/payments/stripe/webhook"


def stripe_knobs(api_base: str) -> dict[str, object]:
    return {
        "payments_provider": "stripe",
        "stripe_secret_key": SecretStr("sk_test_kalema"),
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "stripe_api_base": api_base,
    }


async def deliver(http, stripe_event):
    body = body_of(stripe_event)
    return await http.post(PATH, content=body, headers=signed(body))


async def history_until(http, account_id: str, count: int) -> list[dict]:
    """The account's history once the read model holds ``count`` entries, newest first."""
    async with asyncio.timeout(20):
        while True:
            entries = (await http.get(f"/accounts/{account_id}/history")).json()["entries"]
            if len(entries) >= count:
                return entries
            await asyncio.sleep(0.05)


async def test_a_stripe_checkout_paid_twice_buys_once_and_its_refund_removes_the_package(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with running_api(store_settings, **stripe_knobs(stripe_mock)) as api:
        async with api.client("token-a") as http:
            checkout = await http.post("/accounts/acct-a/checkouts", json={"package": "small"})
        async with api.client() as http:
            paid = event("checkout.session.completed", session("pi_a"), "evt_paid")
            answers = [
                await deliver(http, paid),
                await deliver(http, paid),
                await deliver(
                    http, event("checkout.session.async_payment_succeeded", session("pi_a"))
                ),
            ]
            bought = await history_until(http, "acct-a", 2)
            refund = await deliver(http, event("charge.refunded", charge("pi_a"), "evt_refund"))
            after = await history_until(http, "acct-a", 3)

    assert checkout.status_code == 201
    assert checkout.json()["pay_url"].startswith("https://checkout.stripe.com/")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json()["status"] == "accepted"
    assert [e["event"] for e in bought].count("PackagePurchased") == 1
    assert bought[0]["purchased_change"] == 1000 and bought[0]["total"] == 1980
    assert refund.status_code == 200
    assert after[0]["event"] == "PackageRefunded" and after[0]["total"] == 980


async def test_a_dispute_removes_the_package_and_its_loss_later_changes_nothing(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with running_api(store_settings, **stripe_knobs(stripe_mock)) as api:
        provider = api.app.state.payments

        async def as_stripe_answers(intent_id: str) -> dict[str, str]:
            # stripe-mock answers a fixture intent without metadata; Stripe answers ours.
            assert intent_id == "pi_d"
            return metadata()

        provider.intent_metadata = as_stripe_answers
        async with api.client() as http:
            await deliver(http, event("checkout.session.completed", session("pi_d")))
            await history_until(http, "acct-a", 2)
            opened = await deliver(http, event("charge.dispute.created", dispute("pi_d")))
            after = await history_until(http, "acct-a", 3)
            lost = await deliver(
                http, event("charge.dispute.closed", dispute("pi_d", status="lost"))
            )

    assert opened.status_code == 200 and opened.json()["status"] == "accepted"
    assert after[0]["event"] == "PackageRefunded" and after[0]["total"] == 980
    assert (lost.status_code, lost.json()["status"]) == (200, "ignored")


async def test_an_off_session_top_up_buys_once_and_a_failed_one_buys_nothing(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with running_api(store_settings, **stripe_knobs(stripe_mock)) as api:
        topup_id = await api.app.state.payments.charge_saved_card(
            _order(), "pm_card_visa", "topup-1"
        )
        async with api.client() as http:
            failed = await deliver(
                http, event("payment_intent.payment_failed", intent("pi_f", succeeded=False))
            )
            succeeded = event("payment_intent.succeeded", intent("pi_t"), "evt_t")
            first, again = await deliver(http, succeeded), await deliver(http, succeeded)
            entries = await history_until(http, "acct-a", 2)

    assert topup_id.startswith("pi_")
    assert (failed.status_code, failed.json()["status"]) == (200, "not_paid")
    assert first.status_code == again.status_code == 200
    assert first.json()["command_id"] == again.json()["command_id"]
    assert [e["event"] for e in entries].count("PackagePurchased") == 1


def _order() -> Order:
    return Order(
        account_id="acct-a", package="small", price_cents=5000, currency="USD", return_url="/"
    )


async def test_partial_refunds_remove_their_share_once_each_and_a_repeat_removes_nothing(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with (
        running_api(store_settings, **stripe_knobs(stripe_mock)) as api,
        api.client() as http,
    ):
        await deliver(http, event("checkout.session.completed", session("pi_p")))
        await history_until(http, "acct-a", 2)
        first = await deliver(http, event("charge.refunded", charge("pi_p", refunded=1234)))
        after_first = await history_until(http, "acct-a", 3)
        second = event("charge.refunded", charge("pi_p", refunded=2500), "evt_r2")
        answers = [await deliver(http, second), await deliver(http, second)]
        after = await history_until(http, "acct-a", 4)

    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert after_first[0]["event"] == "PackagePartlyRefunded"
    assert after_first[0]["total"] == 1980 - 246  # $12.34 of $50.00: 246.8 credits, rounded down
    assert [a.json()["command_id"] for a in answers].count(answers[0].json()["command_id"]) == 2
    assert after[0]["total"] == 1980 - 500 and len(after) == 4


async def test_a_refund_delivered_before_its_checkout_completed_leaves_no_credits(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with (
        running_api(store_settings, **stripe_knobs(stripe_mock)) as api,
        api.client() as http,
    ):
        refund = await deliver(http, event("charge.refunded", charge("pi_r"), "evt_r"))
        paid = event("checkout.session.completed", session("pi_r"), "evt_p")
        answers = [await deliver(http, paid), await deliver(http, paid)]
        entries = await history_until(http, "acct-a", 3)

    assert (refund.status_code, answers[0].status_code, answers[1].status_code) == (200, 200, 200)
    assert [e["event"] for e in entries][:2] == ["PurchaseReversed", "PackagePurchased"]
    assert entries[0]["total"] == 980


async def test_a_dispute_lost_changes_nothing_and_one_won_gives_the_credits_back(
    store_settings, ledger, projector, client, stripe_mock
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with running_api(store_settings, **stripe_knobs(stripe_mock)) as api:

        async def as_stripe_answers(intent_id: str) -> dict[str, str]:
            return metadata()  # stripe-mock answers a fixture intent without our metadata

        api.app.state.payments.intent_metadata = as_stripe_answers
        async with api.client() as http:
            await deliver(http, event("checkout.session.completed", session("pi_w")))
            await history_until(http, "acct-a", 2)
            await deliver(http, event("charge.dispute.created", dispute("pi_w")))
            await history_until(http, "acct-a", 3)
            lost = await deliver(
                http, event("charge.dispute.closed", dispute("pi_w", status="lost"), "evt_l")
            )
            won = await deliver(
                http, event("charge.dispute.closed", dispute("pi_w", status="won"), "evt_w")
            )
            after = await history_until(http, "acct-a", 4)

    assert (lost.status_code, lost.json()["status"]) == (200, "ignored")
    assert (won.status_code, won.json()["status"]) == (200, "accepted")
    assert after[0]["event"] == "PackageRestored" and after[0]["total"] == 1980
