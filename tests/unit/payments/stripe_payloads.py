"""Stripe webhook deliveries as Stripe sends them: event objects shaped after Stripe's API
reference (Event, Checkout Session, PaymentIntent, Charge, Dispute; currencies in lower case),
signed with Stripe's documented scheme (``Stripe-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>." + body, keyed with the endpoint's secret>``), written out here from the
documentation so that the SDK's verification is checked against it, not against itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

WEBHOOK_SECRET = "whsec_test_kalema_stripe"
ACCOUNT = "acct-a"


def metadata(
    account_id: str = ACCOUNT, package: str = "small", price_cents: int = 5000, **more: str
) -> dict[str, str]:
    """What our checkout wrote on the session and its PaymentIntent."""
    return {
        "checkout_id": "kc_1",
        "account_id": account_id,
        "package": package,
        "catalog_version": "1",
        "price_cents": str(price_cents),
        "currency": "USD",
        **more,
    }


def event(kind: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {"object": obj},
    }


def session(intent: str = "pi_1", *, paid: bool = True, amount: int = 5000, **meta: Any):
    return {
        "id": "cs_test_a1",
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": "paid" if paid else "unpaid",
        "amount_total": amount,
        "currency": "usd",
        "customer": "cus_1",
        "client_reference_id": "kc_1",
        "payment_intent": intent,
        "metadata": metadata(**meta),
        "url": None,
    }


def intent(intent_id: str = "pi_off_1", *, succeeded: bool = True, amount: int = 5000, **meta):
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if succeeded else 0,
        "currency": "usd",
        "customer": "cus_1",
        "status": "succeeded" if succeeded else "requires_payment_method",
        "metadata": metadata(source="off_session", **meta),
    }


def charge(intent_id: str = "pi_1", *, refunded: int = 5000, amount: int = 5000, **meta):
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "refunded": refunded == amount,
        "currency": "usd",
        "customer": "cus_1",
        "payment_intent": intent_id,
        "metadata": metadata(**meta),
        "paid": True,
        "status": "succeeded",
    }


def dispute(intent_id: str = "pi_1", *, status: str = "needs_response", amount: int = 5000):
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": amount,
        "charge": "ch_1",
        "currency": "usd",
        "payment_intent": intent_id,
        "metadata": {},
        "reason": "fraudulent",
        "status": status,
    }


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt).encode()


def signed(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """The ``Stripe-Signature`` header Stripe would send with ``body``."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"}
