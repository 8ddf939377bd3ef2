"""Buying credits over fake ports: a checkout credits nothing; only the provider's signed
webhook produces ``BuyPackage`` (once per payment, with what was paid and the checkout's
quote), a refund or chargeback ``RefundPackage`` (a partial refund with the amount refunded so
far), a won dispute ``RestorePackage``; a failed payment is 200 and buys nothing."""

from __future__ import annotations

import json
import logging
import time

import httpx

from events.commands import BuyPackage, Offer, Paid, RefundPackage, RestorePackage
from services.api.app import create_app
from services.payments.quote import sign_quote
from services.payments.signature import HEADER, sign
from tests.unit.api.test_app import SETTINGS, FakeLedger, fake_ports, outcome
from tests.unit.core.scenario import ACCOUNT

SECRET = SETTINGS.payments_webhook_secret.get_secret_value()


def app_and_ledger():
    ledger = FakeLedger(outcome)
    ports = fake_ports(ledger)
    app = create_app(SETTINGS, ports=ports)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    return app, http, ledger


def event(
    kind="payment.succeeded",
    payment_ref="pi_1",
    amount_cents=5000,
    package="small",
    quote=None,
    refunded_cents=None,
):
    data = {
        "refunded_cents": refunded_cents,
        "quote": quote,
        "checkout_id": "cs_1",
        "payment_ref": payment_ref,
        "account_id": ACCOUNT,
        "package": package,
        "amount_cents": amount_cents,
        "currency": "USD",
    }
    return json.dumps({"id": "evt_1", "type": kind, "created": 1, "data": data}).encode()


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    return {HEADER: sign(secret, int(time.time()) if at is None else at, body)}


async def test_a_checkout_names_the_catalog_price_and_the_page_to_pay_and_credits_nothing():
    _, http, ledger = app_and_ledger()
    async with http:
        started = await http.post(
            f"/accounts/{ACCOUNT}/checkouts",
            json={"package": "small"},
            headers={"Authorization": "Bearer tok-1"},
        )
        page = await http.get(started.json()["pay_url"])
        unknown = await http.post(
            f"/accounts/{ACCOUNT}/checkouts",
            json={"package": "huge"},
            headers={"Authorization": "Bearer tok-1"},
        )

    assert started.status_code == 201
    checkout = started.json()
    assert (checkout["package"], checkout["price_cents"], checkout["currency"]) == (
        "small",
        5000,
        "USD",
    )
    assert checkout["checkout_id"].startswith("cs_test_") and checkout["status"] == "open"
    assert page.status_code == 200 and "Pay $50.00, test mode" in page.text
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_package")
    assert ledger.sent == []


async def test_a_signed_payment_buys_the_package_with_the_providers_reference_once():
    _, http, ledger = app_and_ledger()
    body = event()
    async with http:
        first = await http.post("/webhooks/payments", content=body, headers=signed(body))
        again = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert first.status_code == again.status_code == 200
    assert [type(c) for c in ledger.sent] == [BuyPackage, BuyPackage]
    bought = ledger.sent[0]
    assert isinstance(bought, BuyPackage)
    assert (bought.account_id, bought.package, bought.payment_ref) == (ACCOUNT, "small", "pi_1")
    assert ledger.sent[1].command_id == bought.command_id  # the ledger decides it once
    assert bought.occurred_at.utcoffset() is not None


async def test_a_webhook_without_the_providers_signature_produces_nothing():
    _, http, ledger = app_and_ledger()
    body = event(package="large", amount_cents=50000)
    async with http:
        answers = [
            await http.post("/webhooks/payments", content=body, headers=headers)
            for headers in (
                {},
                signed(body, secret="whsec_guess"),
                signed(body, at=int(time.time()) - 3600),  # a replay, an hour later
                signed(event(package="small"), secret=SECRET),  # another body's signature
            )
        ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [(400, "invalid_signature")] * 4
    assert ledger.sent == []


async def test_a_payment_at_the_price_its_checkout_quoted_carries_the_quote_to_the_ledger():
    _, http, ledger = app_and_ledger()
    quoted = Offer(credits=1000, price_cents=4000, currency="USD")  # the catalog says 5000 now
    quote = sign_quote(SECRET, ACCOUNT, "small", quoted)
    body = event(amount_cents=4000, quote=quote)
    forged = event(amount_cents=4000, quote=quote.replace(".4000.", ".400."), payment_ref="pi_2")
    async with http:
        for each in (body, forged):
            answer = await http.post("/webhooks/payments", content=each, headers=signed(each))
            assert answer.status_code == 200

    honoured, unquoted = ledger.sent
    assert isinstance(honoured, BuyPackage) and isinstance(unquoted, BuyPackage)
    assert (honoured.offer, honoured.paid) == (quoted, Paid(amount_cents=4000, currency="USD"))
    assert unquoted.offer is None  # the ledger parks it: 4000 is not the catalog's price


async def test_a_checkout_signs_the_catalog_price_into_the_providers_metadata():
    app, http, _ = app_and_ledger()
    async with http:
        started = await http.post(
            f"/accounts/{ACCOUNT}/checkouts",
            json={"package": "small"},
            headers={"Authorization": "Bearer tok-1"},
        )

    checkout_id = started.json()["checkout_id"]
    order, _ = app.state.payments.checkouts[checkout_id]
    body = json.loads(app.state.payments.event("payment.succeeded", checkout_id))
    assert body["data"]["quote"] == order.quote and order.quote.startswith("q1.1000.5000.USD.")


async def test_a_parked_payment_is_answered_200_and_logged_as_an_error(caplog):
    ledger_answer = lambda command: outcome(command, events=("PaymentParked",))  # noqa: E731
    ledger = FakeLedger(ledger_answer)
    ports = fake_ports(ledger)
    app = create_app(SETTINGS, ports=ports)
    body = event(package="large", amount_cents=5000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as h:
        with caplog.at_level(logging.ERROR, logger="kalema.api"):
            answer = await h.post("/webhooks/payments", content=body, headers=signed(body))

    assert answer.status_code == 200
    assert any("parked: paid, not credited" in r.getMessage() for r in caplog.records)


async def test_a_refund_a_chargeback_and_a_won_dispute_each_reach_the_ledger_once():
    _, http, ledger = app_and_ledger()
    kinds = ("payment.refunded", "payment.disputed", "payment.dispute_won")
    async with http:
        for body in [event(kind) for kind in kinds] * 2:
            answer = await http.post("/webhooks/payments", content=body, headers=signed(body))
            assert answer.status_code == 200

    refund, chargeback, won = ledger.sent[:3]
    assert [c.command_id for c in ledger.sent[3:]] == [refund.command_id, chargeback.command_id,
                                                       won.command_id]  # fmt: skip
    assert isinstance(refund, RefundPackage) and refund.reason == "refund"
    assert isinstance(chargeback, RefundPackage) and chargeback.reason == "chargeback"
    assert isinstance(won, RestorePackage) and won.payment_ref == "pi_1"
    assert len({refund.command_id, chargeback.command_id, won.command_id}) == 3


async def test_a_malformed_but_signed_event_is_422_and_produces_nothing():
    _, http, ledger = app_and_ledger()
    body = b'{"id": "evt_1", "type": "payment.succeeded"}'
    async with http:
        answer = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_event")
    assert ledger.sent == []


async def test_a_failed_payment_is_answered_200_not_paid_and_buys_nothing():
    _, http, ledger = app_and_ledger()
    body = event("payment.failed")
    async with http:
        answer = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["command_id"]) == ("not_paid", None)
    assert ledger.sent == []


async def test_partial_refunds_reach_the_ledger_once_per_amount_refunded_so_far():
    _, http, ledger = app_and_ledger()
    bodies = [event("payment.refunded", refunded_cents=cents) for cents in (1000, 1000, 2500)]
    async with http:
        for body in bodies:
            answer = await http.post("/webhooks/payments", content=body, headers=signed(body))
            assert answer.status_code == 200

    first, repeat, second = ledger.sent
    assert [c.refunded_cents for c in ledger.sent] == [1000, 1000, 2500]
    assert first.command_id == repeat.command_id != second.command_id
    assert all(isinstance(c, RefundPackage) and c.reason == "refund" for c in ledger.sent)


async def test_a_refund_of_the_whole_amount_is_the_full_refund_with_its_usual_id():
    _, http, ledger = app_and_ledger()
    bodies = [event("payment.refunded", refunded_cents=5000), event("payment.refunded")]
    async with http:
        for body in bodies:
            await http.post("/webhooks/payments", content=body, headers=signed(body))

    whole, unsaid = ledger.sent
    assert whole.refunded_cents is None and whole.command_id == unsaid.command_id


async def test_a_refund_of_nothing_is_answered_200_ignored_and_decides_nothing():
    _, http, ledger = app_and_ledger()
    body = event("payment.refunded", refunded_cents=0)
    async with http:
        answer = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert ledger.sent == []
