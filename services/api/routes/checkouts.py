"""Buying credits: a checkout at the payment provider, then its signed webhook.

An account starts a purchase (``POST /accounts/{id}/checkouts``): the price comes from the
catalog, the provider gives a checkout and the page to pay it on. Nothing is credited yet.
When the provider confirms the payment it calls ``POST /webhooks/payments``; only a delivery
whose signature verifies (``services.payments.signature``) produces ``BuyPackage``, with the
provider's payment reference. The command id is derived from that reference, so a webhook
delivered twice buys once. A refund or a chargeback produces ``RefundPackage`` (once, whichever
comes first). The webhook answers 2xx once the ledger has decided, so the provider retries
otherwise; a refusal by the rules (a duplicate payment, say) is still 200: retrying cannot
change it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from events.commands import BuyPackage, Command, Identifier, RefundPackage
from services.api.deps import LimitsDep, PortsDep, SettingsDep, acting, rate_limited
from services.api.errors import documented, error
from services.api.json_bodies import StrictJsonRoute
from services.api.routes.commands import outcome_of
from services.ledger.core import Catalog
from services.payments.model import Checkout, Order, PaymentEvent, PaymentProvider
from services.payments.signature import HEADER, SignatureError, verify

router = APIRouter(tags=["purchases"], route_class=StrictJsonRoute)
log = logging.getLogger("kalema.api")
Buyer = Annotated[str, Depends(acting("account"))]


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    package: Identifier


class WebhookAnswer(BaseModel):
    received: bool
    command_id: str
    status: str
    code: str | None


def provider_of(request: Request) -> PaymentProvider:
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
    provider: Annotated[PaymentProvider, Depends(provider_of)],
) -> Checkout:
    """Start buying a package: the answer names the price and the page to pay on
    (``pay_url``). Credits arrive when the payment provider confirms. Scope: account."""
    offer = ports.catalog.packages.get(body.package)
    if offer is None:
        raise error(422, "unknown_package", f"no package {body.package!r}; see /catalog/packages")
    rate_limited(limits, account_id)
    order = Order(
        account_id=account_id,
        package=body.package,
        price_cents=offer.price_cents,
        currency=offer.currency,
        return_url="/",
    )
    return await provider.create_checkout(order)


@router.post("/webhooks/payments", responses=documented(400, 413, 422, 503, 504))
async def payment_webhook(
    request: Request,
    ports: PortsDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias=HEADER)] = None,
) -> WebhookAnswer:
    """The payment provider's confirmation (``payment.succeeded``), refund
    (``payment.refunded``) or chargeback (``payment.disputed``), signed with the webhook
    secret: ``Payments-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of "t." + body>``."""
    raw = await request.body()
    secret = settings.payments_webhook_secret.get_secret_value()
    try:
        verify(signature, raw, secret, time.time(), settings.payments_webhook_tolerance_s)
        event = PaymentEvent.model_validate_json(raw)
    except SignatureError as bad:
        raise error(400, "invalid_signature", str(bad)) from bad
    except ValidationError as bad:
        raise error(422, "invalid_event", "the webhook event is malformed") from bad
    command = command_for(event, ports.catalog, datetime.now(UTC))
    outcome = await outcome_of(ports, command)
    log.info("payment webhook %s %s: %s", event.type, event.id, outcome.status)
    return WebhookAnswer(
        received=True, command_id=command.command_id, status=outcome.status, code=outcome.code
    )


def command_for(event: PaymentEvent, catalog: Catalog, now: datetime) -> Command:
    """The ledger command a verified payment event asks for; its id is the payment's."""
    payment = event.data
    digest = hashlib.sha256(payment.payment_ref.encode()).hexdigest()[:32]
    if event.type != "payment.succeeded":
        return RefundPackage(
            command_id=f"payment-reversal-{digest}",
            account_id=payment.account_id,
            occurred_at=now,
            payment_ref=payment.payment_ref,
        )
    offer = catalog.packages.get(payment.package)
    if offer is None or (offer.price_cents, offer.currency) != (
        payment.amount_cents,
        payment.currency,
    ):
        raise error(422, "amount_mismatch", "the payment does not match the package's price")
    return BuyPackage(
        command_id=f"payment-{digest}",
        account_id=payment.account_id,
        occurred_at=now,
        package=payment.package,
        payment_ref=payment.payment_ref,
    )
