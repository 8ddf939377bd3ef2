"""Stripe events read as neutral payment events: given a Stripe event → then this neutral
event (or none, or this typed refusal). Pure: no Stripe, no ledger."""

from __future__ import annotations

import pytest

from services.payments.model import canonical_currency, refunded_credits
from services.payments.stripe_events import (
    UnusableStripeEvent,
    card_event,
    intent_to_look_up,
    payment_event,
    setup_to_look_up,
)
from tests.unit.payments.stripe_payloads import (
    ACCOUNT,
    charge,
    dispute,
    event,
    intent,
    metadata,
    session,
)


@pytest.mark.parametrize(
    ("stripe_event", "neutral"),
    [
        (event("checkout.session.completed", session()), "payment.succeeded"),
        (
            event("checkout.session.async_payment_succeeded", session(paid=False)),
            "payment.succeeded",
        ),
        (event("checkout.session.async_payment_failed", session(paid=False)), "payment.failed"),
        (event("payment_intent.succeeded", intent("pi_1")), "payment.succeeded"),
        (event("payment_intent.payment_failed", intent("pi_1", succeeded=False)), "payment.failed"),
        (event("charge.refunded", charge()), "payment.refunded"),
        (event("charge.dispute.created", dispute()), "payment.disputed"),
        (event("charge.dispute.closed", dispute(status="won")), "payment.dispute_won"),
    ],
)
def test_each_stripe_event_about_our_payment_is_one_neutral_event_naming_its_payment_intent(
    stripe_event, neutral
):
    found = payment_event(stripe_event, metadata())

    assert found is not None and found.type == neutral
    assert (found.id, found.data.payment_ref, found.data.account_id) == ("evt_1", "pi_1", ACCOUNT)
    assert (found.data.package, found.data.amount_cents, found.data.currency) == (
        "small",
        5000,
        "USD",
    )


@pytest.mark.parametrize(
    "stripe_event",
    [
        event("checkout.session.completed", session(paid=False)),  # async: wait for its outcome
        event("checkout.session.completed", {**session(), "mode": "setup"}),  # a saved card
        event("payment_intent.succeeded", {**intent(), "metadata": metadata()}),  # a checkout's
        event("charge.dispute.closed", dispute(status="lost")),  # removed when it opened
        event("customer.created", {"id": "cus_1", "object": "customer"}),
        event("invoice.paid", {"id": "in_1", "object": "invoice", "metadata": {}}),
    ],
)
def test_an_event_that_stands_for_no_payment_event_is_none(stripe_event):
    assert payment_event(stripe_event, metadata()) is None


def test_a_full_refund_says_all_and_a_partial_one_how_much_in_all():
    full = payment_event(event("charge.refunded", charge()))
    partial = payment_event(event("charge.refunded", charge(refunded=1999)))

    assert full is not None and full.data.refunded_cents == 5000
    assert partial is not None and partial.data.refunded_cents == 1999


def test_a_dispute_carries_no_metadata_so_its_payment_intent_is_looked_up():
    assert intent_to_look_up(event("charge.dispute.created", dispute("pi_9"))) == "pi_9"
    assert intent_to_look_up(event("charge.refunded", charge())) is None
    assert intent_to_look_up(event("checkout.session.completed", session())) is None


def test_a_payment_at_another_price_passes_what_was_paid_and_the_quote_for_the_ledger_to_decide():
    cheaper = event("checkout.session.completed", session(amount=100, quote="q1.signed"))
    in_euros = event("checkout.session.completed", {**session(), "currency": "eur"})

    paid_less, paid_in_euros = payment_event(cheaper), payment_event(in_euros)

    assert paid_less is not None and paid_in_euros is not None
    assert (paid_less.data.amount_cents, paid_less.data.quote) == (100, "q1.signed")
    assert (paid_in_euros.data.currency, paid_in_euros.data.quote) == ("EUR", None)


def test_a_payment_whose_currency_is_not_a_currency_is_refused():
    with pytest.raises(UnusableStripeEvent) as refused:
        payment_event(event("checkout.session.completed", {**session(), "currency": "u$d"}))
    assert refused.value.code == "invalid_currency"


def test_a_payment_without_our_metadata_is_refused_as_not_ours():
    foreign = event("checkout.session.completed", {**session(), "metadata": {}})
    looked_up_nothing = event("charge.dispute.created", dispute())

    for stripe_event in (foreign, looked_up_nothing):
        with pytest.raises(UnusableStripeEvent) as refused:
            payment_event(stripe_event, {})
        assert refused.value.code == "not_our_payment"


def test_stripe_lower_case_currency_and_the_catalogs_upper_case_are_one_canonical_form():
    assert canonical_currency("usd") == canonical_currency("USD") == "USD"
    for bad in ("us", "usdd", "u$d", "ü12"):
        with pytest.raises(ValueError):
            canonical_currency(bad)


@pytest.mark.parametrize(
    ("refunded_cents", "credits_removed"),
    [
        (0, 0),
        (1, 0),  # a cent pays for a fifth of a credit: the customer keeps it
        (2500, 500),
        (2501, 500),
        (4999, 999),
        (5000, 1000),
        (6000, 1000),  # never more than the package
    ],
)
def test_a_partial_refund_removes_the_credits_its_share_paid_for_rounded_in_the_customers_favour(
    refunded_cents, credits_removed
):
    assert refunded_credits(1000, 5000, refunded_cents) == credits_removed


def setup_session(account_id: str = ACCOUNT) -> dict:
    return {
        "id": "cs_test_setup",
        "object": "checkout.session",
        "mode": "setup",
        "status": "complete",
        "setup_intent": "seti_1",
        "metadata": {"account_id": account_id, "setup_id": "ks_1"},
    }


SETUP_INTENT = {"id": "seti_1", "payment_method": {"id": "pm_1", "card": {"last4": "4242"}}}


def test_a_completed_setup_session_is_the_card_it_saved_for_its_account():
    completed = event("checkout.session.completed", setup_session())

    saved = card_event(completed, SETUP_INTENT)

    assert setup_to_look_up(completed) == "seti_1"
    assert (saved.type, saved.data.account_id) == ("card.saved", ACCOUNT)
    assert (saved.data.provider_ref, saved.data.last4) == ("pm_1", "4242")
    assert payment_event(completed) is None  # never a payment


def test_a_setup_session_without_our_account_is_not_our_card():
    completed = event("checkout.session.completed", {**setup_session(), "metadata": {}})

    with pytest.raises(UnusableStripeEvent) as refused:
        card_event(completed, SETUP_INTENT)

    assert refused.value.code == "not_our_card"


def test_a_declined_off_session_charge_carries_stripes_decline_code():
    failed = intent("pi_1", succeeded=False)
    failed["last_payment_error"] = {"code": "card_declined", "decline_code": "insufficient_funds"}

    found = payment_event(event("payment_intent.payment_failed", failed), metadata())

    assert found is not None and found.data.failure_reason == "insufficient_funds"
