"""Stripe's webhook over fake ports: verified by the SDK, then decided like any payment (one
``BuyPackage`` per payment, ``RefundPackage`` for a full refund or a dispute); a failed
payment buys nothing, an event of no interest is 200 and ignored, and a partial refund reaches
the ledger with the amount refunded so far."""

from __future__ import annotations

import logging
import time

import httpx
from pydantic import SecretStr

from events.commands import BuyPackage, Offer, RefundPackage
from services.api.app import create_app
from services.payments.quote import sign_quote
from tests.unit.api.test_app import SETTINGS, FakeLedger, fake_ports, outcome
from tests.unit.payments.stripe_payloads import (
    ACCOUNT,
    WEBHOOK_SECRET,
    body_of,
    charge,
    event,
    intent,
    session,
    signed,
)

STRIPE = SETTINGS.model_copy(
    update={
        "payments_provider": "stripe",
        "stripe_secret_key": SecretStr("sk_test_unit"),
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "stripe_api_base": "http://127.0.0.1:9",  # nothing answers: no call may be made
    }
)
PATH = "/payments/stripe/webhook"
QUOTED = Offer(credits=1000, price_cents=4000, currency="USD")  # the price when it was opened


def app_and_ledger():
    ledger = FakeLedger(outcome)
    ports = fake_ports(ledger)
    app = create_app(STRIPE, ports=ports)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    return http, ledger


async def deliver(http, stripe_event, **signing):
    body = body_of(stripe_event)
    return await http.post(PATH, content=body, headers=signed(body, **signing))


async def test_a_paid_session_delivered_twice_and_its_async_success_buy_once_by_the_intent():
    http, ledger = app_and_ledger()
    async with http:
        answers = [
            await deliver(http, event("checkout.session.completed", session(), "evt_a")),
            await deliver(http, event("checkout.session.completed", session(), "evt_a")),
            await deliver(http, event("checkout.session.async_payment_succeeded", session())),
        ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(isinstance(c, BuyPackage) for c in ledger.sent)
    assert {(c.command_id, c.payment_ref, c.package) for c in ledger.sent} == {
        (answers[0].json()["command_id"], "pi_1", "small")
    }


async def test_a_full_refund_removes_the_package_and_a_failed_payment_buys_nothing():
    http, ledger = app_and_ledger()
    async with http:
        refunded = await deliver(http, event("charge.refunded", charge()))
        failed = await deliver(
            http, event("payment_intent.payment_failed", intent(succeeded=False))
        )

    assert refunded.status_code == 200 and failed.json()["status"] == "not_paid"
    assert [type(c) for c in ledger.sent] == [RefundPackage]
    assert ledger.sent[0].payment_ref == "pi_1"


async def test_an_unknown_event_type_is_200_ignored_and_logged_at_debug(caplog):
    http, ledger = app_and_ledger()
    caplog.set_level(logging.DEBUG, "kalema.payments")
    async with http:
        answer = await deliver(http, event("customer.updated", {"id": "cus_1"}, "evt_u"))

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert ledger.sent == []
    assert [r.levelno for r in caplog.records if "evt_u" in r.getMessage()] == [logging.DEBUG]


async def test_a_partial_refund_is_not_read_as_a_full_one_but_as_the_amount_refunded_so_far():
    http, ledger = app_and_ledger()
    async with http:
        partial = await deliver(http, event("charge.refunded", charge(refunded=1000)))

    assert partial.status_code == 200
    [refund] = ledger.sent
    assert isinstance(refund, RefundPackage) and refund.refunded_cents == 1000


async def test_a_forged_a_stale_or_a_malformed_delivery_is_400_and_decides_nothing():
    http, ledger = app_and_ledger()
    paid = event("checkout.session.completed", session())
    async with http:
        forged = await deliver(http, paid, secret="whsec_guess")
        stale = await deliver(http, paid, at=int(time.time()) - 3600)
        unsigned = await http.post(PATH, content=body_of(paid))
        garbage = await http.post(PATH, content=b"{not json", headers=signed(b"{not json"))

    for answer in (forged, stale, unsigned):
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert (garbage.status_code, garbage.json()["code"]) == (400, "invalid_event")
    assert ledger.sent == []


async def test_an_event_at_another_price_reaches_the_ledger_with_what_was_paid_and_its_quote():
    http, ledger = app_and_ledger()
    quote = sign_quote(STRIPE.quote_key(), ACCOUNT, "small", QUOTED)
    async with http:
        cheaper = await deliver(
            http, event("checkout.session.completed", session(amount=4000, quote=quote))
        )

    assert cheaper.status_code == 200
    [buy] = ledger.sent
    assert isinstance(buy, BuyPackage)
    assert (buy.paid.amount_cents, buy.offer) == (4000, QUOTED)
