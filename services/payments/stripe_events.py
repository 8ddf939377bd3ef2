"""Stripe's webhook events, read as Kalema's provider-neutral payment events. Pure.

What we ask Stripe to carry for us (``metadata`` on the Checkout Session, on its PaymentIntent
and on an off-session PaymentIntent): the account, the package, the catalog version, the price
and currency the checkout was opened at, the checkout's signed quote (``quote.py``) and our
checkout id. The amount paid and the quote go to the ledger as they are: it buys the package
at the quoted price, or parks a payment that matches neither the quote nor the catalog.

    checkout.session.completed (paid)            -> payment.succeeded
    checkout.session.async_payment_succeeded     -> payment.succeeded
    checkout.session.async_payment_failed        -> payment.failed
    payment_intent.succeeded (off-session)       -> payment.succeeded
    payment_intent.payment_failed (off-session)  -> payment.failed
    charge.refunded                              -> payment.refunded (refunded_cents: in all)
    charge.dispute.created                       -> payment.disputed
    charge.dispute.closed (won)                  -> payment.dispute_won

A setup session that completed (``checkout.session.completed``, mode ``setup``) saved a card
for automatic top-ups: with its SetupIntent (looked up, its payment method expanded) it is
``card.saved`` (``card_event``). Anything else (a session still unpaid, a dispute lost: its
credits went when it opened) is no payment event: ``None``. The payment's reference is always the
PaymentIntent's id, so every event about one payment names the same payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from services.payments.model import (
    CardEvent,
    Payment,
    PaymentEvent,
    PaymentEventType,
    SavedCard,
    canonical_currency,
)

OFF_SESSION = "off_session"
"""``metadata.source`` of a PaymentIntent we create to charge a saved card."""
HANDLED = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
)
"""The event types to subscribe the webhook endpoint to."""


class UnusableStripeEvent(ValueError):
    """A verified Stripe event that cannot be read as a payment of ours: ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def intent_to_look_up(event: Mapping[str, Any]) -> str | None:
    """The PaymentIntent whose metadata a refund or dispute needs, when its object lacks ours
    (a dispute never carries it)."""
    obj = event["data"]["object"]
    if event["type"].startswith("charge.") and "account_id" not in (obj.get("metadata") or {}):
        intent = obj.get("payment_intent")
        return intent if isinstance(intent, str) else None
    return None


def setup_to_look_up(event: Mapping[str, Any]) -> str | None:
    """The SetupIntent of a setup session that completed: the card it saved is on it."""
    obj = event["data"]["object"]
    if event["type"] != "checkout.session.completed" or obj.get("mode") != "setup":
        return None
    intent = obj.get("setup_intent")
    return intent if isinstance(intent, str) else None


def card_event(event: Mapping[str, Any], setup_intent: Mapping[str, Any]) -> CardEvent:
    """The card a completed setup session saved, for the account its metadata names."""
    metadata = event["data"]["object"].get("metadata") or {}
    method = setup_intent.get("payment_method") or {}
    try:
        card = SavedCard(
            account_id=metadata["account_id"],
            provider_ref=method["id"],
            last4=method["card"]["last4"],
        )
    except (KeyError, TypeError, ValidationError) as bad:
        raise UnusableStripeEvent(
            "not_our_card", f"{event['type']} {event['id']}: no Kalema card setup in it ({bad})"
        ) from bad
    return CardEvent(id=event["id"], type="card.saved", created=event["created"], data=card)


def payment_event(
    event: Mapping[str, Any], intent_metadata: Mapping[str, str] | None = None
) -> PaymentEvent | None:
    """The neutral event a Stripe event stands for, or ``None`` when it stands for none."""
    kind, obj = event["type"], event["data"]["object"]
    found = _reading(kind, obj)
    if found is None:
        return None
    neutral, amount_key, intent = found
    metadata = obj.get("metadata") or {}
    if "account_id" not in metadata:
        metadata = intent_metadata or {}
    refunded = obj.get("amount_refunded") if neutral == "payment.refunded" else None
    try:
        currency = canonical_currency(str(obj.get("currency")))
    except ValueError as bad:
        raise UnusableStripeEvent("invalid_currency", f"{kind} {event['id']}: {bad}") from bad
    try:
        payment = Payment(
            checkout_id=metadata["checkout_id"],
            payment_ref=intent,
            account_id=metadata["account_id"],
            package=metadata["package"],
            amount_cents=int(obj[amount_key]),
            currency=currency,
            quote=metadata.get("quote") or None,
            refunded_cents=refunded,
            failure_reason=_failure(obj) if neutral == "payment.failed" else None,
        )
    except (KeyError, TypeError, ValueError, ValidationError) as bad:
        raise UnusableStripeEvent(
            "not_our_payment", f"{kind} {event['id']}: no Kalema checkout in it ({bad})"
        ) from bad
    return PaymentEvent(id=event["id"], type=neutral, created=event["created"], data=payment)


def _failure(obj: Mapping[str, Any]) -> str:
    """Why a payment failed, in Stripe's words: its decline code, else its error code."""
    error = obj.get("last_payment_error") or {}
    reason = error.get("decline_code") or error.get("code") or "payment_failed"
    return str(reason)[:500]


def _reading(kind: str, obj: Mapping[str, Any]) -> tuple[PaymentEventType, str, Any] | None:
    """The neutral type, the field holding the amount, and the PaymentIntent's id."""
    if kind.startswith("checkout.session."):
        if obj.get("mode") != "payment":
            return None
        intent = obj.get("payment_intent")
        if kind == "checkout.session.async_payment_failed":
            return "payment.failed", "amount_total", intent
        paid = kind == "checkout.session.async_payment_succeeded" or (
            kind == "checkout.session.completed" and obj.get("payment_status") == "paid"
        )
        return ("payment.succeeded", "amount_total", intent) if paid else None
    if kind.startswith("payment_intent."):
        if (obj.get("metadata") or {}).get("source") != OFF_SESSION:
            return None  # a checkout's own intent: its session's events decide
        if kind == "payment_intent.succeeded":
            return "payment.succeeded", "amount_received", obj.get("id")
        if kind == "payment_intent.payment_failed":
            return "payment.failed", "amount", obj.get("id")
        return None
    intent = obj.get("payment_intent")
    if kind == "charge.refunded":
        return "payment.refunded", "amount", intent
    if kind == "charge.dispute.created":
        return "payment.disputed", "amount", intent
    if kind == "charge.dispute.closed" and obj.get("status") == "won":
        return "payment.dispute_won", "amount", intent
    return None
