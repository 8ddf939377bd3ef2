"""Reconciliation against Stripe, on stripe-mock: the PaymentIntents are listed page after page
with their latest charge expanded, a disputed one's dispute is looked up, and ``credits
payments reconcile --provider stripe`` lists stripe-mock's fixture intent against each store.
stripe-mock is stateless: the tests assert on the requests our code made and on the rows'
shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from typer.testing import CliRunner

from services.audit.payment_sources import LOOKBACK, stripe_payments
from services.cli import app
from services.settings import Settings
from tests.integration.conftest_stripe import (  # noqa: F401  (the stripe_mock fixture)
    provider_at,
    stripe_mock_fixture,
)
from tests.unit.payments.stripe_payloads import WEBHOOK_SECRET

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


async def test_payment_intents_are_listed_since_the_date_less_the_lookback_with_their_charges(
    stripe_mock,
):
    provider, recorder = provider_at(stripe_mock)

    listed = await stripe_payments(provider, SINCE)

    first = recorder.sent[0]
    assert (first.method, first.path) == ("get", "/v1/payment_intents")
    assert first.params == {
        "created[gte]": str(int((SINCE - LOOKBACK).timestamp())),
        "limit": "100",
        "expand[0]": "data.latest_charge",
    }
    assert [(p.payment_ref[:3], p.currency, p.status) for p in listed] == [
        ("pi_", "USD", "not paid (requires_payment_method)")  # stripe-mock's fixture intent
    ]
    assert all(p.amount_cents > 0 and not p.paid for p in listed)


async def test_a_disputed_payments_dispute_is_looked_up_by_its_payment_intent(stripe_mock):
    provider, recorder = provider_at(stripe_mock)

    status = await provider.dispute_status("pi_123")

    sent = recorder.sent[0]
    assert (sent.method, sent.path, sent.params) == (
        "get",
        "/v1/disputes",
        {"payment_intent": "pi_123", "limit": "1"},
    )
    assert isinstance(status, str) and status


def test_credits_payments_reconcile_lists_stripes_payments_against_the_store(
    stripe_mock, store_settings: Settings
):
    env = {
        "KALEMA_EVENT_STORE": store_settings.event_store,
        "KALEMA_SQLITE_PATH": str(store_settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": store_settings.postgres_schema,
        "KALEMA_PAYMENTS_PROVIDER": "stripe",
        "KALEMA_STRIPE_SECRET_KEY": "sk_test_kalema",
        "KALEMA_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KALEMA_STRIPE_API_BASE": stripe_mock,
    }
    # stripe-mock's fixture intent was created on 2009-02-13 (unix 1234567890).
    args = ["payments", "reconcile", "--since", "2009-02-13", "--format", "json"]

    result = CliRunner().invoke(app, args, env=env)

    rows = json.loads(result.stdout)
    assert [(r["payment_ref"][:3], r["provider"], r["ledger"], r["verdict"]) for r in rows] == [
        ("pi_", "not paid (requires_payment_method)", "nothing", "ok")
    ]
    assert result.exit_code == 0
