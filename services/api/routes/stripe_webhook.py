"""Stripe's webhook: ``POST /payments/stripe/webhook``, served when Stripe is the provider.

The SDK verifies the delivery (``Stripe-Signature``, within the tolerance); the event is read
as a neutral payment event and decided through the ledger like the test provider's, by the
same ``command_for``: its command id is the payment's, so the same payment told twice (or by
two event types, ``checkout.session.completed`` and ``async_payment_succeeded``) buys once.
Stripe retries anything but a 2xx for days, so an answer other than 2xx is kept for what a
retry may change: the ledger not answering in time, or Stripe not answering a look-up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import stripe
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from services.api.deps import PortsDep
from services.api.errors import documented, error
from services.api.routes.checkouts import command_for
from services.api.routes.commands import awaited_outcome
from services.payments.model import PaymentEvent
from services.payments.stripe_events import UnusableStripeEvent
from services.payments.stripe_provider import SignatureVerificationError, StripeProvider

router = APIRouter(tags=["purchases"])
log = logging.getLogger("kalema.api")
PATH = "/payments/stripe/webhook"


class StripeWebhookAnswer(BaseModel):
    received: bool
    status: str
    """The ledger's outcome, or ``ignored`` (no payment event) or ``not_paid`` (a failed
    payment: nothing to buy)."""
    command_id: str | None = None
    code: str | None = None


@router.post(PATH, responses=documented(400, 413, 422, 503, 504))
async def stripe_webhook(
    request: Request,
    ports: PortsDep,
    signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> StripeWebhookAnswer:
    """A Stripe event, signed with the endpoint's secret."""
    provider = request.app.state.payments
    if not isinstance(provider, StripeProvider):
        raise error(503, "payments_unavailable", "Stripe is not the payment provider")
    raw = await request.body()
    try:
        event = await provider.verified_event(raw, signature)
    except SignatureVerificationError as bad:
        raise error(400, "invalid_signature", str(bad.user_message or bad)) from bad
    except UnusableStripeEvent as bad:
        raise error(422, bad.code, str(bad)) from bad
    except stripe.StripeError as bad:
        raise error(503, "provider_unavailable", "Stripe did not answer a look-up") from bad
    except ValueError as bad:  # not JSON, or not an event
        raise error(400, "invalid_event", "the webhook body is not a Stripe event") from bad
    if event is None:
        return StripeWebhookAnswer(received=True, status="ignored")
    quote_key = request.app.state.settings.quote_key()
    command = command_for(event, quote_key, datetime.now(UTC))
    if command is None:
        assert isinstance(event, PaymentEvent)  # a saved card is always a command
        status = "not_paid" if event.type == "payment.failed" else "ignored"
        log.info("stripe %s %s: %s", event.type, event.data.payment_ref, status)
        return StripeWebhookAnswer(received=True, status=status)
    outcome = await awaited_outcome(ports, command)
    log.info("stripe webhook %s %s: %s", event.type, event.id, outcome.status)
    return StripeWebhookAnswer(
        received=True, command_id=command.command_id, status=outcome.status, code=outcome.code
    )
