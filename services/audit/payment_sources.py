"""Where reconciliation reads from: the provider's payments (the test provider's record over
the API, Stripe's PaymentIntents through its SDK) and the ledger's index and log (read only).

The provider is asked from ``LOOKBACK`` before the date on: a payment taken just before it
whose webhook was decided just after is then known, not a credit without payment.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import httpx
from pydantic import TypeAdapter

from events.ledger import LedgerEvent, PackagePurchased
from services.api.routes.checkouts import success_command_id
from services.audit.reconciliation import (
    LedgerFacts,
    LedgerPurchase,
    ProviderPayment,
    from_events,
)
from services.ledger.core.past import bought_anywhere, decided, refunded_part, reversal
from services.ledger.recorders import Wanted
from services.ledger.store import LedgerStore
from services.ledger.upcasting import recorded
from services.payments.model import PaymentEvent
from services.payments.stripe_provider import PaymentIntentSummary, StripeProvider
from services.progress import Step

LOOKBACK = timedelta(days=3)
"""Stripe retries a webhook for up to three days."""
PAGE = 5000
_EVENTS = TypeAdapter(list[PaymentEvent])


async def test_provider_payments(api_url: str, since: datetime) -> list[ProviderPayment]:
    """The test provider's record, as the running API serves it (``/test-payments/events``)."""
    start = int((since - LOOKBACK).timestamp())
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        answer = await http.get("/test-payments/events", params={"since": start})
        answer.raise_for_status()
    return from_events(_EVENTS.validate_json(answer.content))


async def stripe_payments(provider: StripeProvider, since: datetime) -> list[ProviderPayment]:
    """Every PaymentIntent at Stripe created since the date (and ``LOOKBACK`` before)."""
    return [stripe_payment(p) async for p in provider.payments_since(since - LOOKBACK)]


def stripe_payment(intent: PaymentIntentSummary) -> ProviderPayment:
    """A PaymentIntent in reconciliation's words."""
    if not intent.succeeded:
        status = f"not paid ({intent.status})"
    elif intent.dispute == "won":
        status = "dispute won"
    elif intent.dispute is not None:
        status = "disputed"
    elif intent.refunded_cents >= intent.amount_cents:
        status = "refunded"
    else:
        status = "refunded partly" if intent.refunded_cents else "succeeded"
    return ProviderPayment(
        payment_ref=intent.payment_ref,
        account_id=intent.account_id,
        package=intent.package,
        amount_cents=intent.amount_cents,
        currency=intent.currency,
        status=status,
        created=intent.created,
        refunded_cents=min(intent.refunded_cents, intent.amount_cents),
    )


class _Found:
    """One account's answers from the index, as the core's ``Past``."""

    def __init__(self, found: dict[Wanted, LedgerEvent], account_id: str) -> None:
        self.found, self.account_id = found, account_id

    def recall(self, key: str) -> LedgerEvent | None:
        return self.found.get((self.account_id, key))


def ledger_facts(store: LedgerStore, payments: Iterable[ProviderPayment]) -> dict[str, LedgerFacts]:
    """What the index says of each payment, on the account the provider names (a payment
    without one is looked up store-wide only), in one query."""
    wanted: list[Wanted] = []
    for p in payments:
        account = p.account_id or ""
        command_id = success_command_id(p.payment_ref)
        keys = (decided(command_id), reversal(p.payment_ref), refunded_part(p.payment_ref))
        wanted += [(account, bought_anywhere(p.payment_ref))]
        wanted += [(account, key) for key in keys] if p.account_id else []
    found = store.recall(wanted)
    return {
        p.payment_ref: LedgerFacts.recalled(
            _Found(found, p.account_id or ""), p.payment_ref, success_command_id(p.payment_ref)
        )
        for p in payments
    }


def ledger_purchases(store: LedgerStore, since: datetime, step: Step) -> list[LedgerPurchase]:
    """Every package the ledger credited at ``since`` or later, read from the whole log
    (only purchases are decoded)."""
    total = store.recorder.max_notification_id() or 0
    found, after = [], 0
    while rows := store.log_rows(after, PAGE):
        for _, account_id, version, topic, state in rows:
            if topic.partition("@")[0] != "PackagePurchased":
                continue
            event = recorded(account_id, version, topic, state).event
            assert isinstance(event, PackagePurchased)
            if event.occurred_at >= since:
                found.append(_purchase(account_id, event))
        after = rows[-1][0]
        step(after, total)
    return found


def _purchase(account_id: str, event: PackagePurchased) -> LedgerPurchase:
    return LedgerPurchase(
        account_id=account_id,
        payment_ref=event.payment_ref,
        package=event.package,
        price_cents=event.price_cents,
        currency=event.currency,
        occurred_at=event.occurred_at,
        by_provider=event.command_id == success_command_id(event.payment_ref),
    )
