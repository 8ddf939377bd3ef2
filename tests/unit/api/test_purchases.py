"""Buying credits over fake ports: a checkout credits nothing; only the provider's signed
webhook produces ``BuyPackage`` (once per payment), and a refund or chargeback
``RefundPackage``."""

from __future__ import annotations

import json
import time

import httpx

from events.commands import BuyPackage, RefundPackage
from services.api.app import create_app
from services.api.hub import BalanceHub
from services.api.ports import Ports
from services.payments.signature import HEADER, sign
from tests.unit.api.test_app import SETTINGS, FakeLedger, FakeReads, outcome
from tests.unit.core.scenario import ACCOUNT, CATALOG

SECRET = SETTINGS.payments_webhook_secret.get_secret_value()


def app_and_ledger():
    ledger = FakeLedger(outcome)
    ports = Ports(reads=FakeReads(), ledger=ledger, hub=BalanceHub(10), catalog=CATALOG)
    app = create_app(SETTINGS, ports=ports)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    return app, http, ledger


def event(kind="payment.succeeded", payment_ref="pi_1", amount_cents=5000, package="small"):
    data = {
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


async def test_a_payment_that_does_not_match_the_packages_price_buys_nothing():
    _, http, ledger = app_and_ledger()
    body = event(package="large", amount_cents=5000)
    async with http:
        answer = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert (answer.status_code, answer.json()["code"]) == (422, "amount_mismatch")
    assert ledger.sent == []


async def test_a_refund_or_a_chargeback_removes_the_package_once_whichever_comes_first():
    _, http, ledger = app_and_ledger()
    refund, dispute = event("payment.refunded"), event("payment.disputed")
    async with http:
        for body in (refund, dispute):
            answer = await http.post("/webhooks/payments", content=body, headers=signed(body))
            assert answer.status_code == 200

    assert [type(c) for c in ledger.sent] == [RefundPackage, RefundPackage]
    assert ledger.sent[0].command_id == ledger.sent[1].command_id
    assert all(isinstance(c, RefundPackage) and c.payment_ref == "pi_1" for c in ledger.sent)


async def test_a_malformed_but_signed_event_is_422_and_produces_nothing():
    _, http, ledger = app_and_ledger()
    body = b'{"id": "evt_1", "type": "payment.succeeded"}'
    async with http:
        answer = await http.post("/webhooks/payments", content=body, headers=signed(body))

    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_event")
    assert ledger.sent == []
