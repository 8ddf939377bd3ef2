"""Every call the Stripe provider makes, made against Stripe's own mock server: what we asked
(parameters, metadata, idempotency keys) and what it answered."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from services.payments.model import CardEvent, Order
from services.payments.stripe_events import UnusableStripeEvent
from services.payments.stripe_provider import SignatureVerificationError
from tests.integration.conftest_stripe import (  # noqa: F401  (the stripe_mock fixture)
    provider_at,
    stripe_mock_fixture,
)
from tests.unit.payments.stripe_payloads import body_of, event, session, signed

ORDER = Order(
    account_id="acct-a",
    package="small",
    price_cents=5000,
    currency="USD",
    return_url="/",
    catalog_version=1,
    quote="q1.1000.5000.USD.signed",
)


async def test_a_checkout_is_a_payment_mode_session_at_the_catalog_price_with_its_signed_quote(
    stripe_mock,
):
    provider, recorder = provider_at(stripe_mock)

    checkout = await provider.create_checkout(ORDER)

    search, session_call = recorder.sent  # stripe-mock's search finds a customer
    assert (search.method, search.path) == ("get", "/v1/customers/search")
    assert search.params["query"] == "metadata['account_id']:'acct-a'"
    params = session_call.params
    assert (session_call.method, session_call.path) == ("post", "/v1/checkout/sessions")
    assert params["mode"] == "payment" and params["customer"].startswith("cus_")
    assert (params["line_items[0][price_data][currency]"], params["line_items[0][quantity]"]) == (
        "usd",
        "1",
    )
    assert params["line_items[0][price_data][unit_amount]"] == "5000"
    for where in ("metadata", "payment_intent_data[metadata]"):
        assert params[f"{where}[account_id]"] == "acct-a"
        assert params[f"{where}[package]"] == "small"
        assert params[f"{where}[catalog_version]"] == "1"
        assert (params[f"{where}[price_cents]"], params[f"{where}[currency]"]) == ("5000", "USD")
        assert params[f"{where}[checkout_id]"] == checkout.checkout_id
        assert params[f"{where}[quote]"] == ORDER.quote
    assert params["success_url"] == "http://127.0.0.1:8000/?checkout={CHECKOUT_SESSION_ID}"
    assert session_call.headers["Idempotency-Key"] == f"kalema-checkout-{checkout.checkout_id}"
    assert checkout.pay_url.startswith("https://checkout.stripe.com/")
    assert (checkout.price_cents, checkout.currency) == (5000, "USD")


async def test_the_accounts_customer_is_found_by_its_metadata_and_reused(
    stripe_mock,
):
    provider, recorder = provider_at(stripe_mock)

    customer = await provider.customer_for("acct-a")

    # stripe-mock's search answers its fixture customer: found, so none is made.
    assert customer.startswith("cus_")
    assert [(s.method, s.path) for s in recorder.sent] == [("get", "/v1/customers/search")]


async def test_a_setup_session_saves_the_customers_card_for_top_ups(stripe_mock):
    provider, recorder = provider_at(stripe_mock)

    page = await provider.create_card_setup("acct-a", "/")

    made = recorder.sent[-1]
    assert (made.path, made.params["mode"]) == ("/v1/checkout/sessions", "setup")
    assert made.params["metadata[account_id]"] == "acct-a"
    assert made.headers["Idempotency-Key"].startswith("kalema-setup-ks_")
    assert page.startswith("https://checkout.stripe.com/")


async def test_an_off_session_charge_confirms_a_payment_intent_with_the_key_we_chose(stripe_mock):
    provider, recorder = provider_at(stripe_mock)

    intent_id = await provider.charge_saved_card(ORDER, "pm_card_visa", "topup-7")

    made = recorder.sent[-1]
    assert (made.method, made.path) == ("post", "/v1/payment_intents")
    assert (made.params["amount"], made.params["currency"]) == ("5000", "usd")
    assert (made.params["off_session"], made.params["confirm"]) == ("true", "true")
    assert made.params["payment_method"] == "pm_card_visa"
    assert made.params["metadata[source]"] == "off_session"
    assert made.params["metadata[checkout_id]"] == "topup-7"
    assert made.headers["Idempotency-Key"] == "kalema-topup-topup-7"
    assert intent_id.startswith("pi_")


async def test_a_disputes_payment_intent_is_looked_up_for_our_metadata(stripe_mock):
    provider, recorder = provider_at(stripe_mock)

    found = await provider.intent_metadata("pi_123")

    assert [(s.method, s.path) for s in recorder.sent] == [("get", "/v1/payment_intents/pi_123")]
    assert found == {}  # the fixture intent carries none; a real one carries ours


async def test_payments_are_listed_since_a_date_page_after_page(stripe_mock):
    provider, recorder = provider_at(stripe_mock)
    since = datetime(2025, 1, 1, tzinfo=UTC)

    listed = [payment async for payment in provider.payments_since(since)]

    first = recorder.sent[0]
    assert (first.method, first.path) == ("get", "/v1/payment_intents")
    assert (first.params["created[gte]"], first.params["limit"]) == (
        str(int(since.timestamp())),
        "100",
    )
    assert listed and all(p.payment_ref.startswith("pi_") and p.currency == "USD" for p in listed)


async def test_the_sdk_verifies_a_delivery_signed_as_stripe_documents_and_refuses_others(
    stripe_mock,
):
    provider, _ = provider_at(stripe_mock)
    body = body_of(event("checkout.session.completed", session()))

    found = await provider.verified_event(body, signed(body)["Stripe-Signature"])
    for bad in (
        signed(body, secret="whsec_guess"),
        signed(body, at=int(time.time()) - 301),  # outside the SDK's default tolerance
    ):
        with pytest.raises(SignatureVerificationError):
            await provider.verified_event(body, bad["Stripe-Signature"])
    foreign = body_of(event("checkout.session.completed", {**session(), "metadata": {}}))
    with pytest.raises(UnusableStripeEvent):
        await provider.verified_event(foreign, signed(foreign)["Stripe-Signature"])

    assert found is not None and (found.type, found.data.payment_ref) == (
        "payment.succeeded",
        "pi_1",
    )


async def test_a_completed_setup_session_is_read_as_the_card_its_setup_intent_saved(stripe_mock):
    provider, recorder = provider_at(stripe_mock)
    completed = {
        **session(),
        "mode": "setup",
        "setup_intent": "seti_1",
        "metadata": {"account_id": "acct-a", "setup_id": "ks_1"},
    }
    body = body_of(event("checkout.session.completed", completed))

    saved = await provider.verified_event(body, signed(body)["Stripe-Signature"])

    looked_up = recorder.sent[-1]
    assert (looked_up.method, looked_up.path) == ("get", "/v1/setup_intents/seti_1")
    assert looked_up.params["expand[0]"] == "payment_method"
    assert isinstance(saved, CardEvent) and saved.data.account_id == "acct-a"
    assert saved.data.provider_ref.startswith("pm_") and len(saved.data.last4) == 4
