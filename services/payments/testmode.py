"""A payment provider for development and the tests: no money moves, but everything else is
as with a real provider. A checkout gets its own page ("Pay $50.00, test mode"); paying it
sends the API a signed ``payment.succeeded`` webhook, over HTTP, exactly as a provider would,
and returns the payer to the account page. A test-mode refund, chargeback or won dispute sends
``payment.refunded`` / ``payment.disputed`` / ``payment.dispute_won``.

Cards for automatic top-ups, as at a real provider: a setup page saves a test card (last four
4242) or one that always declines (last four 0002) and sends ``card.saved``; an off-session
charge (``POST /test-payments/charges``, what the top-up process calls) is keyed by the
top-up's id, so asking twice charges once, and sends ``payment.succeeded`` or, declined,
``payment.failed`` with the reason ``card_declined``. Checkouts, cards, charges and every
event the provider reported (``payments``, served at ``/test-payments/events``) live in this
process's memory.

Served under ``/test-payments`` only when ``KALEMA_PAYMENTS_TEST_PROVIDER`` is on (the default
on loopback; the API refuses it on any other address).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import secrets
import time
from typing import Literal

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel

from services.payments.model import (
    Checkout,
    Order,
    PaymentEvent,
    PaymentEventType,
)
from services.payments.signature import HEADER, sign

log = logging.getLogger("kalema.payments")
PREFIX = "/test-payments"
WEBHOOK_PATH = "/webhooks/payments"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


CARDS = {"visa": ("4242", False), "declining": ("0002", True)}  # last four, always declines
DECLINED = "card_declined"


class Charge(BaseModel):
    """An off-session charge of a saved card, as the top-up process asks for it."""

    order: Order
    payment_method: str
    topup_id: str


class Charged(BaseModel):
    payment_ref: str
    status: Literal["succeeded", "declined"]
    reason: str | None = None


class TestPaymentProvider:
    __test__ = False  # not a pytest class

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.checkouts: dict[str, tuple[Order, str | None]] = {}  # id -> order, payment_ref
        self.reported: list[PaymentEvent] = []  # every event delivered, in order
        self.setups: dict[str, tuple[str, str]] = {}  # id -> account, return url
        self.cards: dict[str, tuple[str, str, bool]] = {}  # ref -> account, last four, declines
        self.charges: dict[str, Charged] = {}  # by the top-up's id: its one charge
        self.router = self._routes()

    async def create_card_setup(self, account_id: str, return_url: str) -> str:
        setup_id = f"seti_test_{secrets.token_hex(12)}"
        self.setups[setup_id] = (account_id, return_url)
        return f"{PREFIX}/setups/{setup_id}"

    async def charge(self, base_url: str, charge: Charge) -> Charged:
        """Charge a saved card off-session, once per ``topup_id``: asked again, the first
        answer, and no second webhook. Its webhook goes to the API at ``base_url``."""
        if (earlier := self.charges.get(charge.topup_id)) is not None:
            return earlier
        order = charge.order
        card = self.cards.get(charge.payment_method)
        usable = card is not None and card[0] == order.account_id and not card[2]
        payment_ref = f"pi_test_{secrets.token_hex(12)}"
        charged = Charged(
            payment_ref=payment_ref,
            status="succeeded" if usable else "declined",
            reason=None if usable else DECLINED,
        )
        self.charges[charge.topup_id] = charged
        self.checkouts[charge.topup_id] = (order, payment_ref)
        kind: PaymentEventType = "payment.succeeded" if usable else "payment.failed"
        await self.deliver(base_url, self.event(kind, charge.topup_id, failure=charged.reason))
        return charged

    async def payments(self, since: int) -> list[PaymentEvent]:
        return [event for event in self.reported if event.created >= since]

    async def create_checkout(self, order: Order) -> Checkout:
        checkout_id = f"cs_test_{secrets.token_hex(16)}"
        self.checkouts[checkout_id] = (order, None)
        return Checkout(
            checkout_id=checkout_id,
            account_id=order.account_id,
            package=order.package,
            price_cents=order.price_cents,
            currency=order.currency,
            pay_url=f"{PREFIX}/checkouts/{checkout_id}",
        )

    def event(
        self, kind: PaymentEventType, checkout_id: str, *, failure: str | None = None
    ) -> bytes:
        """The webhook body the provider sends about a paid checkout."""
        order, payment_ref = self.checkouts[checkout_id]
        data = {
            "checkout_id": checkout_id,
            "payment_ref": payment_ref,
            "account_id": order.account_id,
            "package": order.package,
            "amount_cents": order.price_cents,
            "currency": order.currency,
            "quote": order.quote,
            "failure_reason": failure,
        }
        event = {"id": f"evt_{secrets.token_hex(12)}", "type": kind, "created": int(time.time())}
        return json.dumps({**event, "data": data}).encode()

    async def deliver(self, base_url: str, body: bytes) -> httpx.Response:
        """POST a webhook to the API, signed; retried a few times, as providers do. A payment
        event is on the provider's record whatever the API answers."""
        if json.loads(body)["type"] != "card.saved":
            self.reported.append(PaymentEvent.model_validate_json(body))
        url = base_url.rstrip("/") + WEBHOOK_PATH
        async with httpx.AsyncClient(timeout=30) as http:
            for attempt in range(3):
                headers = {HEADER: sign(self.secret, int(time.time()), body)}
                headers["Content-Type"] = "application/json"
                try:
                    response = await http.post(url, content=body, headers=headers)
                    if response.status_code < 500:
                        return response
                except httpx.TransportError:
                    if attempt == 2:
                        raise
                log.warning("webhook delivery failed (attempt %d); retrying", attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))
        return response

    def _routes(self) -> APIRouter:
        router = APIRouter(prefix=PREFIX, include_in_schema=False)
        self._card_routes(router)

        @router.get("/checkouts/{checkout_id}")
        async def checkout_page(checkout_id: str) -> HTMLResponse:
            found = self.checkouts.get(checkout_id)
            if found is None:
                return HTMLResponse("<p>No such checkout.</p>", 404, headers=PAGE_HEADERS)
            return HTMLResponse(_page(checkout_id, *found), headers=PAGE_HEADERS)

        @router.post("/checkouts/{checkout_id}/pay", response_model=None)
        async def pay(checkout_id: str, request: Request) -> RedirectResponse | HTMLResponse:
            found = self.checkouts.get(checkout_id)
            if found is None:
                return HTMLResponse("<p>No such checkout.</p>", 404, headers=PAGE_HEADERS)
            order, payment_ref = found
            if payment_ref is None:
                payment_ref = f"pi_test_{secrets.token_hex(12)}"
                self.checkouts[checkout_id] = (order, payment_ref)
            event = self.event("payment.succeeded", checkout_id)
            answer = await self.deliver(str(request.base_url), event)
            if answer.status_code != 200:
                text = html.escape(answer.text[:500])
                return HTMLResponse(f"<p>Webhook refused: {text}</p>", 502, headers=PAGE_HEADERS)
            back = f"{order.return_url}?checkout={checkout_id}"
            return RedirectResponse(back, status_code=303)

        @router.get("/events")
        async def events(since: int = 0) -> list[PaymentEvent]:
            """Every event the provider reported from ``since`` (unix seconds) on."""
            return await self.payments(since)

        @router.post("/checkouts/{checkout_id}/{kind}")
        async def reverse(
            checkout_id: str, kind: Literal["refund", "chargeback", "dispute-won"], request: Request
        ) -> dict[str, object]:
            """Refund, charge back or win the dispute over a paid checkout: its webhook goes
            to the API."""
            found = self.checkouts.get(checkout_id)
            if found is None or found[1] is None:
                return {"delivered": False, "reason": "no such paid checkout"}
            event_type = _REVERSALS[kind]
            answer = await self.deliver(str(request.base_url), self.event(event_type, checkout_id))
            return {"delivered": answer.status_code == 200, "answer": answer.json()}

        return router

    def _card_routes(self, router: APIRouter) -> None:
        """A card setup's page, saving its card, and off-session charges."""

        @router.get("/setups/{setup_id}")
        async def setup_page(setup_id: str) -> HTMLResponse:
            found = self.setups.get(setup_id)
            if found is None:
                return HTMLResponse("<p>No such card setup.</p>", 404, headers=PAGE_HEADERS)
            return HTMLResponse(_setup_page(setup_id, *found), headers=PAGE_HEADERS)

        @router.post("/setups/{setup_id}/{card}", response_model=None)
        async def save_card(
            setup_id: str, card: Literal["visa", "declining"], request: Request
        ) -> RedirectResponse | HTMLResponse:
            """Save the test card (or the one that always declines): ``card.saved`` goes to
            the API, and the payer back to the account page."""
            found = self.setups.pop(setup_id, None)
            if found is None:
                return HTMLResponse("<p>No such card setup.</p>", 404, headers=PAGE_HEADERS)
            account_id, return_url = found
            last4, declines = CARDS[card]
            ref = f"pm_test_{secrets.token_hex(12)}"
            self.cards[ref] = (account_id, last4, declines)
            data = {"account_id": account_id, "provider_ref": ref, "last4": last4}
            event = {"id": f"evt_{secrets.token_hex(12)}", "type": "card.saved"}
            body = json.dumps({**event, "created": int(time.time()), "data": data}).encode()
            answer = await self.deliver(str(request.base_url), body)
            if answer.status_code != 200:
                text = html.escape(answer.text[:500])
                return HTMLResponse(f"<p>Webhook refused: {text}</p>", 502, headers=PAGE_HEADERS)
            return RedirectResponse(f"{return_url}?card=saved", status_code=303)

        @router.post("/charges")
        async def charge(body: Charge, request: Request) -> Charged:
            """Charge a saved card off-session (the top-up process's call)."""
            return await self.charge(str(request.base_url), body)


_REVERSALS: dict[str, PaymentEventType] = {
    "refund": "payment.refunded",
    "chargeback": "payment.disputed",
    "dispute-won": "payment.dispute_won",
}


def _setup_page(setup_id: str, account_id: str, return_url: str) -> str:
    e = html.escape
    action = f"{PREFIX}/setups/{e(setup_id)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Save a card</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="card" id="test-card-setup">
<h1>Kalema test payments</h1>
<p>Save a card for automatic top-ups, account {e(account_id)}</p>
<form method="post" action="{action}/visa">
<button type="submit" id="save-card">Save test card ending 4242</button>
</form>
<form method="post" action="{action}/declining">
<button type="submit" id="save-declining-card">Save a card that always declines (0002)</button>
</form>
<p>test mode: no money moves</p>
<p><a href="{e(return_url)}">Cancel</a></p>
</main></body></html>"""


def _page(checkout_id: str, order: Order, payment_ref: str | None) -> str:
    price = (
        f"${order.price_cents / 100:,.2f}"
        if order.currency == "USD"
        else (f"{order.price_cents / 100:,.2f} {order.currency}")
    )
    e = html.escape
    state = "already paid" if payment_ref else "test mode: no money moves"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test payment</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="card" id="test-payment">
<h1>Kalema test payments</h1>
<p>{e(order.package)} package for account {e(order.account_id)}</p>
<p class="mono">{e(checkout_id)}</p>
<form method="post" action="{PREFIX}/checkouts/{e(checkout_id)}/pay">
<button type="submit" id="pay">Pay {e(price)}, test mode</button>
</form>
<p>{e(state)}</p>
<p><a href="{e(order.return_url)}">Cancel</a></p>
</main></body></html>"""
