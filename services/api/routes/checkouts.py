"""Buying credits: a checkout at the payment provider, then its signed webhook.

An account starts a purchase (``POST /accounts/{id}/checkouts``): the price comes from the
catalog and is signed into the checkout's metadata (``services.payments.quote``); the provider
gives a checkout and the page to pay it on. Nothing is credited yet. When the provider confirms
the payment it calls ``POST /webhooks/payments``; only a delivery whose signature verifies
(``services.payments.signature``) produces ``BuyPackage``, with the provider's payment
reference, the amount paid and the quoted offer: the ledger parks a payment that is not the
price it was sold at (``PaymentParked``, logged as an ERROR here) rather than credit or drop it.
A refund or a chargeback produces ``RefundPackage`` (before or after the success: the ledger
keeps the order straight; a partial refund with the amount refunded so far), a won dispute
``RestorePackage``; a failed payment buys nothing and is answered ``not_paid``. Each command's
id is derived from the payment reference and the kind of event (a partial refund's, from the
amount refunded so far too), so a webhook delivered twice is decided once. The
webhook answers 2xx once the ledger has decided, so the provider retries otherwise; a refusal
by the rules (a duplicate payment, say) is still 200: retrying cannot change it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from events.commands import (
    BuyPackage,
    Command,
    Identifier,
    Offer,
    Paid,
    RecordTopUpFailure,
    RefundPackage,
    RestorePackage,
    SavePaymentMethod,
)
from services.api.deps import LimitsDep, PortsDep, SettingsDep, acting, rate_limited
from services.api.errors import documented, error
from services.api.json_bodies import StrictJsonRoute
from services.api.routes.commands import awaited_outcome
from services.payments.model import (
    CardEvent,
    Checkout,
    Order,
    PaymentEvent,
    PaymentProvider,
    top_up_failure_id,
)
from services.payments.quote import read_quote, sign_quote
from services.payments.signature import HEADER, SignatureError, verify

router = APIRouter(tags=["purchases"], route_class=StrictJsonRoute)
log = logging.getLogger("kalema.api")
Buyer = Annotated[str, Depends(acting("account"))]
AnyEvent = Annotated[PaymentEvent | CardEvent, Field(discriminator="type")]
EVENTS: TypeAdapter[PaymentEvent | CardEvent] = TypeAdapter(AnyEvent)


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: Identifier


class WebhookAnswer(BaseModel):
    received: bool
    command_id: str | None
    status: str
    """The ledger's outcome, or ``not_paid`` (a failed payment: nothing to buy), or
    ``ignored`` (a refund of nothing)."""
    code: str | None


class CardSetup(BaseModel):
    setup_url: str
    """The page where the card is entered; the payer comes back to the account page."""


async def provider_of(request: Request) -> PaymentProvider:  # async: no worker thread
    provider: PaymentProvider | None = request.app.state.payments
    if provider is None:
        raise error(503, "payments_unavailable", "no payment provider is configured")
    return provider


@router.post(
    "/accounts/{account_id}/checkouts",
    status_code=201,
    responses=documented(401, 403, 413, 422, 429, 503),
)
async def start_checkout(
    account_id: Buyer,
    body: CheckoutRequest,
    ports: PortsDep,
    limits: LimitsDep,
    settings: SettingsDep,
    provider: Annotated[PaymentProvider, Depends(provider_of)],
) -> Checkout:
    """Start buying a package: the answer names the price and the page to pay on
    (``pay_url``). Credits arrive when the payment provider confirms. Scope: account."""
    offer = ports.catalog.packages.get(body.package)
    if offer is None:
        raise error(422, "unknown_package", f"no package {body.package!r}; see /catalog/packages")
    rate_limited(limits, account_id)
    quoted = Offer(credits=offer.credits, price_cents=offer.price_cents, currency=offer.currency)
    order = Order(
        account_id=account_id,
        package=body.package,
        price_cents=offer.price_cents,
        currency=offer.currency,
        return_url="/",
        catalog_version=ports.catalog.version,
        quote=sign_quote(settings.quote_key(), account_id, body.package, quoted),
    )
    return await provider.create_checkout(order)


@router.post(
    "/accounts/{account_id}/card-setups",
    status_code=201,
    responses=documented(401, 403, 413, 429, 503),
)
async def start_card_setup(
    account_id: Buyer,
    limits: LimitsDep,
    provider: Annotated[PaymentProvider, Depends(provider_of)],
) -> CardSetup:
    """Save a card for automatic top-ups: the answer names the page to enter it on. The card
    is on the account once the payment provider confirms it. Scope: account."""
    rate_limited(limits, account_id)
    return CardSetup(setup_url=await provider.create_card_setup(account_id, "/"))


@router.post("/webhooks/payments", responses=documented(400, 413, 422, 503, 504))
async def payment_webhook(
    request: Request,
    ports: PortsDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=HEADER)] = None,
) -> WebhookAnswer:
    """The payment provider's confirmation (``payment.succeeded``), refund
    (``payment.refunded``, whole or partial), chargeback (``payment.disputed``), won dispute
    (``payment.dispute_won``) or failure (``payment.failed``: nothing is bought), in any
    order, signed with the webhook secret:
    ``Payments-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "t." + body>``. A failed
    off-session charge of an automatic top-up is recorded against it; a card saved for
    top-ups (``card.saved``) goes on the account."""
    raw = await request.body()
    secret = settings.payments_webhook_secret.get_secret_value()
    try:
        verify(signature, raw, secret, time.time(), settings.payments_webhook_tolerance_s)
        event = EVENTS.validate_json(raw)
    except SignatureError as bad:
        raise error(400, "invalid_signature", str(bad)) from bad
    except ValidationError as bad:
        raise error(422, "invalid_event", "the webhook event is malformed") from bad
    command = command_for(event, settings.quote_key(), datetime.now(UTC))
    if command is None:
        assert isinstance(event, PaymentEvent)  # a saved card is always a command
        status = "not_paid" if event.type == "payment.failed" else "ignored"
        log.info("payment %s %s (%s): %s", event.type, event.data.payment_ref, event.id, status)
        return WebhookAnswer(received=True, command_id=None, status=status, code=None)
    outcome = await awaited_outcome(ports, command)
    if isinstance(event, PaymentEvent) and "PaymentParked" in outcome.events:
        log.error(
            "payment %s (%s %d %s for %s on %s) parked: paid, not credited",
            event.data.payment_ref,
            event.id,
            event.data.amount_cents,
            event.data.currency,
            event.data.package,
            event.data.account_id,
        )
    log.info("payment webhook %s %s: %s", event.type, event.id, outcome.status)
    return WebhookAnswer(
        received=True, command_id=command.command_id, status=outcome.status, code=outcome.code
    )


def command_id_for(event: PaymentEvent) -> str:
    """The ledger command id a payment event becomes: one per payment and kind of event, so a
    delivery repeated is decided once (a refund keeps the id it always had). A partial refund
    is one per payment and amount refunded so far: each larger one is a new command."""
    if (cents := partly_refunded_cents(event)) is not None:
        key = f"{event.data.payment_ref}\n{cents}"
        return f"payment-partial-refund-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    return _command_id(_ID_PREFIX[event.type], event.data.payment_ref)


def success_command_id(payment_ref: str) -> str:
    """The command id a payment's success became: what tells a purchase a provider's webhook
    made from one billing sent with its own id (reconciliation)."""
    return _command_id(_ID_PREFIX["payment.succeeded"], payment_ref)


def _command_id(prefix: str, payment_ref: str) -> str:
    return f"{prefix}-{hashlib.sha256(payment_ref.encode()).hexdigest()[:32]}"


def partly_refunded_cents(event: PaymentEvent) -> int | None:
    """How much of the payment a partial refund has refunded so far; None for anything else."""
    cents = event.data.refunded_cents
    if event.type != "payment.refunded" or cents is None or cents >= event.data.amount_cents:
        return None
    return cents


_ID_PREFIX = {
    "payment.succeeded": "payment",
    "payment.refunded": "payment-reversal",
    "payment.disputed": "payment-chargeback",
    "payment.dispute_won": "payment-dispute-won",
    "payment.failed": "payment-failed",
}


def command_for(event: PaymentEvent | CardEvent, quote_key: str, now: datetime) -> Command | None:
    """The ledger command a verified payment event asks for; None when there is nothing to
    decide (a failed payment buys nothing, a refund of nothing removes nothing). A success
    carries what was paid and the offer the checkout quoted (when its signature holds); the
    ledger decides whether that pays for the package. A top-up's payment names its request;
    its failure is recorded under the command id the top-up process uses too."""
    if isinstance(event, CardEvent):
        card = event.data
        digest = hashlib.sha256(card.provider_ref.encode()).hexdigest()[:32]
        return SavePaymentMethod(
            command_id=f"card-saved-{digest}",
            account_id=card.account_id,
            occurred_at=now,
            last4=card.last4,
            provider_ref=card.provider_ref,
        )
    payment = event.data
    if event.type == "payment.failed" and payment.top_up is not None:
        return RecordTopUpFailure(
            command_id=top_up_failure_id(payment.top_up),
            account_id=payment.account_id,
            occurred_at=now,
            request_id=payment.top_up,
            reason=payment.failure_reason or "the payment failed",
        )
    if event.type == "payment.failed" or payment.refunded_cents == 0:
        return None
    common = {
        "command_id": command_id_for(event),
        "account_id": payment.account_id,
        "occurred_at": now,
        "payment_ref": payment.payment_ref,
    }
    if event.type == "payment.dispute_won":
        return RestorePackage(**common)
    if event.type != "payment.succeeded":
        if event.type == "payment.disputed":
            return RefundPackage(**common, reason="chargeback")
        return RefundPackage(**common, reason="refund", refunded_cents=partly_refunded_cents(event))
    return BuyPackage(
        **common,
        package=payment.package,
        offer=read_quote(quote_key, payment.quote, payment.account_id, payment.package),
        paid=Paid(amount_cents=payment.amount_cents, currency=payment.currency.upper()),
        top_up=payment.top_up,
    )
