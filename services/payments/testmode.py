"""A payment provider for development and the tests: no money moves, but everything else is
as with a real provider. A checkout gets its own page ("Pay $50.00, test mode"); paying it
sends the API a signed ``payment.succeeded`` webhook, over HTTP, exactly as a provider would,
and returns the payer to the account page. A test-mode refund, chargeback or won dispute sends
``payment.refunded`` / ``payment.disputed`` / ``payment.dispute_won``. Checkouts, and every
event the provider reported (``payments``, served at ``/test-payments/events``), live in this
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

from services.payments.model import Checkout, Order, PaymentEvent, PaymentEventType
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


class TestPaymentProvider:
    __test__ = False  # not a pytest class

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.checkouts: dict[str, tuple[Order, str | None]] = {}  # id -> order, payment_ref
        self.reported: list[PaymentEvent] = []  # every event delivered, in order
        self.router = self._routes()

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

    def event(self, kind: PaymentEventType, checkout_id: str) -> bytes:
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
        }
        event = {"id": f"evt_{secrets.token_hex(12)}", "type": kind, "created": int(time.time())}
        return json.dumps({**event, "data": data}).encode()

    async def deliver(self, base_url: str, body: bytes) -> httpx.Response:
        """POST a webhook to the API, signed; retried a few times, as providers do. The event
        is on the provider's record whatever the API answers."""
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


_REVERSALS: dict[str, PaymentEventType] = {
    "refund": "payment.refunded",
    "chargeback": "payment.disputed",
    "dispute-won": "payment.dispute_won",
}


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
