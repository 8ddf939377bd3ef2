"""Stripe as the payment provider, through its official SDK (``stripe.StripeClient``).

Every call is idempotent by a key derived from our own id (a checkout, a top-up, an account),
so a retry, ours or the SDK's, never creates a second object at Stripe. A webhook is verified
by the SDK (``stripe.Webhook.construct_event``, with its tolerance) over the exact bytes
received, then read as a neutral payment event (``services.payments.stripe_events``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import stripe

from services.payments.model import CardEvent, Checkout, Order, PaymentEvent, canonical_currency
from services.payments.stripe_events import (
    OFF_SESSION,
    card_event,
    intent_to_look_up,
    payment_event,
    setup_to_look_up,
)

log = logging.getLogger("kalema.payments")
SignatureVerificationError = stripe.SignatureVerificationError


class StripeProvider:
    """Checkouts, saved cards, off-session charges and webhooks, at Stripe."""

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        return_base_url: str,
        api_base: str | None = None,
        tolerance_s: int = stripe.Webhook.DEFAULT_TOLERANCE,
        max_network_retries: int = 2,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=http_client or stripe.HTTPXClient(),
            max_network_retries=max_network_retries,
        )
        self.webhook_secret = webhook_secret
        self.return_base_url = return_base_url
        self.tolerance_s = tolerance_s

    async def customer_for(self, account_id: str) -> str:
        """The account's Stripe customer: found by its metadata, or made once."""
        query = f"metadata['account_id']:'{account_id}'"
        found = await self.client.v1.customers.search_async({"query": query, "limit": 1})
        if found.data:
            return str(found.data[0].id)
        created = await self.client.v1.customers.create_async(
            {"metadata": {"account_id": account_id}},
            {"idempotency_key": f"kalema-customer-{account_id}"},
        )
        return str(created.id)

    async def create_checkout(self, order: Order) -> Checkout:
        """A Checkout Session in payment mode for the package, at the catalog's price."""
        checkout_id = f"kc_{secrets.token_hex(12)}"
        metadata = _metadata(order, checkout_id)
        session = await self.client.v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "customer": await self.customer_for(order.account_id),
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": order.currency.lower(),
                            "unit_amount": order.price_cents,
                            "product_data": {"name": f"Kalema credits: {order.package}"},
                        },
                    }
                ],
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "client_reference_id": checkout_id,
                "success_url": self._back(order, "{CHECKOUT_SESSION_ID}"),
                "cancel_url": self._back(order, "cancelled"),
            },
            {"idempotency_key": f"kalema-checkout-{checkout_id}"},
        )
        return Checkout(
            checkout_id=checkout_id,
            account_id=order.account_id,
            package=order.package,
            price_cents=order.price_cents,
            currency=order.currency,
            pay_url=str(session.url),
        )

    async def create_card_setup(self, account_id: str, return_url: str) -> str:
        """A Checkout Session in setup mode that saves the customer's card for top-ups; the
        page to enter it on."""
        setup_id = f"ks_{secrets.token_hex(12)}"
        session = await self.client.v1.checkout.sessions.create_async(
            {
                "mode": "setup",
                "customer": await self.customer_for(account_id),
                "currency": "usd",
                "metadata": {"account_id": account_id, "setup_id": setup_id},
                "success_url": urljoin(self.return_base_url, return_url),
                "cancel_url": urljoin(self.return_base_url, return_url),
            },
            {"idempotency_key": f"kalema-setup-{setup_id}"},
        )
        return str(session.url)

    async def charge_saved_card(self, order: Order, payment_method: str, topup_id: str) -> str:
        """Charge the customer's saved card, off-session, for the package; ``topup_id`` is
        ours and keys the charge, so asking twice charges once. The PaymentIntent's id."""
        intent = await self.client.v1.payment_intents.create_async(
            {
                "amount": order.price_cents,
                "currency": order.currency.lower(),
                "customer": await self.customer_for(order.account_id),
                "payment_method": payment_method,
                "off_session": True,
                "confirm": True,
                "metadata": {**_metadata(order, topup_id), "source": OFF_SESSION},
            },
            {"idempotency_key": f"kalema-topup-{topup_id}"},
        )
        return str(intent.id)

    async def verified_event(
        self, body: bytes, signature: str | None
    ) -> PaymentEvent | CardEvent | None:
        """The neutral event a webhook delivery stands for, once the SDK has verified its
        signature (``SignatureVerificationError`` otherwise); ``None`` for no payment event.
        ``stripe_events.UnusableStripeEvent`` for one about a payment that is not ours. A
        completed setup session is the card it saved (its SetupIntent looked up)."""
        event = stripe.Webhook.construct_event(
            body, signature, self.webhook_secret, tolerance=self.tolerance_s
        )
        raw: dict[str, Any] = event.to_dict()
        if (setup := setup_to_look_up(raw)) is not None:
            saved = await self.client.v1.setup_intents.retrieve_async(
                setup, {"expand": ["payment_method"]}
            )
            return card_event(raw, saved.to_dict())
        intent = intent_to_look_up(raw)
        metadata = await self.intent_metadata(intent) if intent else None
        found = payment_event(raw, metadata)
        if found is None:
            log.debug("stripe event %s (%s): not a payment event", raw["id"], raw["type"])
        return found

    async def intent_metadata(self, intent_id: str) -> Mapping[str, str]:
        """What we wrote on a PaymentIntent (a dispute does not carry it)."""
        intent = await self.client.v1.payment_intents.retrieve_async(intent_id)
        return _plain(intent.metadata)

    async def payments_since(self, since: datetime) -> AsyncIterator[PaymentIntentSummary]:
        """Every PaymentIntent created since ``since``, page after page (the SDK asks for the
        next page as the iteration reaches it), with its latest charge's refunds and dispute:
        what reconciliation compares with the ledger. A disputed one's dispute is looked up
        (won or not)."""
        listed = await self.client.v1.payment_intents.list_async(
            {
                "created": {"gte": int(since.timestamp())},
                "limit": 100,
                "expand": ["data.latest_charge"],
            }
        )
        async for intent in listed.auto_paging_iter():
            summary = PaymentIntentSummary.of(intent)
            if summary.dispute == "open":
                summary = replace(summary, dispute=await self.dispute_status(summary.payment_ref))
            yield summary

    async def dispute_status(self, intent_id: str) -> str:
        """The status of the latest dispute over a PaymentIntent (``won``, ``lost``,
        ``needs_response``...), or ``open`` when Stripe lists none."""
        found = await self.client.v1.disputes.list_async({"payment_intent": intent_id, "limit": 1})
        return str(found.data[0].status) if found.data else "open"

    def _back(self, order: Order, checkout: str) -> str:
        return f"{urljoin(self.return_base_url, order.return_url)}?checkout={checkout}"


@dataclass(frozen=True)
class PaymentIntentSummary:
    """A payment at Stripe, as reconciliation compares it with the ledger."""

    payment_ref: str
    account_id: str | None
    package: str | None
    amount_cents: int
    currency: str
    status: str
    """The PaymentIntent's status (``succeeded``, ``processing``, ``canceled``...)."""
    created: int
    refunded_cents: int = 0
    """Refunded of its latest charge so far, in all."""
    dispute: str | None = None
    """None when its charge was never disputed; else the dispute's status (``won``...)."""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @classmethod
    def of(cls, intent: stripe.PaymentIntent) -> PaymentIntentSummary:
        metadata = _plain(intent.metadata)
        charge = intent.latest_charge if isinstance(intent.latest_charge, stripe.Charge) else None
        return cls(
            payment_ref=str(intent.id),
            account_id=metadata.get("account_id"),
            package=metadata.get("package"),
            amount_cents=int(intent.amount_received or intent.amount),
            currency=canonical_currency(intent.currency),
            status=str(intent.status),
            created=int(intent.created),
            refunded_cents=int(charge.amount_refunded or 0) if charge else 0,
            dispute="open" if charge and charge.disputed else None,
        )


def _metadata(order: Order, checkout_id: str) -> dict[str, str]:
    """What every Stripe object of a purchase carries back to us, signed in its webhooks."""
    version = "" if order.catalog_version is None else str(order.catalog_version)
    return {
        "checkout_id": checkout_id,
        "account_id": order.account_id,
        "package": order.package,
        "catalog_version": version,
        "price_cents": str(order.price_cents),
        "currency": order.currency,
        "quote": order.quote or "",
    }


def _plain(metadata: stripe.StripeObject | None) -> dict[str, str]:
    return {} if metadata is None else {str(k): str(v) for k, v in metadata.to_dict().items()}
