"""Reconciliation: every payment the provider reports against what the ledger did with it,
and the ledger's purchases the provider does not know. Pure: the provider's payments and the
ledger's index come in, rows go out.

A payment the provider took is owed its credits. Each one gets a row: its status at the
provider, what the ledger did (credited, refunded, parked, refused, or nothing at all), and a
verdict. The ledger did nothing (``MISSING``: its webhook never arrived or was never decided),
parked or refused a payment the provider still holds money for (``PAID NOT CREDITED``),
kept credits the provider refunded (``REFUND DIFFERS``), or credited a payment the provider
does not have (``CREDIT WITHOUT PAYMENT``): each is a problem, so nothing paid is dropped
without a line saying so. A purchase billing sent with a payment reference of its own (its
command id is billing's, not the one a provider's webhook derives) is listed as
``other source``: the provider was never asked to know it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from events.ledger import (
    CommandRefused,
    LedgerEvent,
    PackagePartlyRefunded,
    PackagePurchased,
    PackageRefunded,
    PackageRestored,
    PaymentParked,
    PaymentReversed,
    PurchaseReversed,
)
from services.ledger.core.past import (
    Past,
    bought_anywhere,
    decided,
    refunded_part,
    reversal,
)
from services.payments.model import PaymentEvent

UNPAID = ("failed", "not paid")
"""Provider statuses of a payment that never succeeded: it is owed nothing."""


class Verdict(StrEnum):
    ok = "ok"
    other_source = "other source"
    missing = "MISSING"
    paid_not_credited = "PAID NOT CREDITED"
    refund_differs = "REFUND DIFFERS"
    credit_without_payment = "CREDIT WITHOUT PAYMENT"

    @property
    def problem(self) -> bool:
        return self not in (Verdict.ok, Verdict.other_source)


@dataclass(frozen=True)
class ProviderPayment:
    """One payment as the provider reports it. ``status``: succeeded, refunded partly,
    refunded, disputed, dispute won, failed or not paid (Stripe's own status in brackets)."""

    payment_ref: str
    account_id: str | None
    package: str | None
    amount_cents: int
    currency: str
    status: str
    created: int
    """Unix seconds."""
    refunded_cents: int = 0
    """Refunded so far, in all (a partial refund's cumulative amount)."""

    @property
    def paid(self) -> bool:
        return self.status.split(" (")[0] not in UNPAID

    @property
    def kept_cents(self) -> int:
        """What the provider still holds of the payment: what the ledger owes credits for."""
        if not self.paid or self.status in ("refunded", "disputed"):
            return 0
        return self.amount_cents - self.refunded_cents


def from_events(events: Iterable[PaymentEvent]) -> list[ProviderPayment]:
    """The test provider's record (every event it reported) as one payment per reference,
    in the order each was first reported."""
    first: dict[str, PaymentEvent] = {}
    seen: dict[str, set[str]] = {}
    refunded: dict[str, int] = {}
    for event in events:
        ref = event.data.payment_ref
        first.setdefault(ref, event)
        seen.setdefault(ref, set()).add(event.type)
        if event.type == "payment.refunded":
            cents = event.data.refunded_cents
            whole = event.data.amount_cents if cents is None else cents
            refunded[ref] = max(refunded.get(ref, 0), whole)
    return [_folded(event, seen[ref], refunded.get(ref, 0)) for ref, event in first.items()]


def _folded(first: PaymentEvent, seen: set[str], refunded_cents: int) -> ProviderPayment:
    amount = first.data.amount_cents
    if "payment.dispute_won" in seen:
        status = "dispute won"
    elif "payment.disputed" in seen:
        status = "disputed"
    elif refunded_cents >= amount and "payment.refunded" in seen:
        status = "refunded"
    elif refunded_cents:
        status = "refunded partly"
    elif seen == {"payment.failed"}:
        status = "failed"
    else:
        status = "succeeded"
    return ProviderPayment(
        payment_ref=first.data.payment_ref,
        account_id=first.data.account_id,
        package=first.data.package,
        amount_cents=amount,
        currency=first.data.currency.upper(),
        status=status,
        created=first.created,
        refunded_cents=min(refunded_cents, amount),
    )


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger's index says of one payment."""

    decision: LedgerEvent | None = None
    """The event the payment's success command ended with (``cmd:<id>``)."""
    bought: LedgerEvent | None = None
    """The package the payment bought, on whichever account (``*payment:<ref>``)."""
    reversed: LedgerEvent | None = None
    """Its latest reversal or restoration (``reversal:<ref>``)."""
    partly: LedgerEvent | None = None
    """Its latest partial refund (``refunded:<ref>``)."""

    @classmethod
    def recalled(cls, past: Past, payment_ref: str, success_command_id: str) -> LedgerFacts:
        return cls(
            decision=past.recall(decided(success_command_id)),
            bought=past.recall(bought_anywhere(payment_ref)),
            reversed=past.recall(reversal(payment_ref)),
            partly=past.recall(refunded_part(payment_ref)),
        )

    @property
    def credited(self) -> bool:
        return isinstance(self.bought, PackagePurchased)

    @property
    def refunded_cents(self) -> int | None:
        """The cents the ledger counts as refunded of a credited payment: None for all of it,
        0 for none."""
        if isinstance(self.reversed, PackageRefunded | PaymentReversed):
            return None
        if isinstance(self.reversed, PurchaseReversed) and self.reversed.refunded_cents is None:
            return None
        if isinstance(self.partly, PackagePartlyRefunded | PurchaseReversed):
            return self.partly.refunded_cents or 0
        return 0

    def said(self) -> str:
        """What the ledger did, in words."""
        if self.credited:
            return "credited" + _after(self.reversed, self.refunded_cents)
        if isinstance(self.decision, PaymentParked):
            return "parked: paid, not credited"
        if isinstance(self.decision, CommandRefused):
            return f"refused: {self.decision.code}"
        if isinstance(self.reversed, PaymentReversed):
            return f"{self.reversed.reason} recorded, never credited"
        return "nothing"


def _after(reversed: LedgerEvent | None, refunded_cents: int | None) -> str:
    if isinstance(reversed, PackageRestored):
        return ", charged back, dispute won"
    if isinstance(reversed, PackageRefunded | PurchaseReversed) and refunded_cents is None:
        return ", then charged back" if reversed.reason == "chargeback" else ", then refunded"
    if refunded_cents:
        return f", then refunded {refunded_cents} cents so far"
    return ""


@dataclass(frozen=True)
class LedgerPurchase:
    """A package the ledger credited, from the store's log."""

    account_id: str
    payment_ref: str
    package: str
    price_cents: int
    currency: str
    occurred_at: datetime
    by_provider: bool
    """Credited by a provider's webhook (its command id is the one the webhook derives from the
    payment reference), not by billing's own ``BuyPackage``."""


@dataclass(frozen=True)
class Row:
    payment_ref: str
    account_id: str
    package: str
    amount_cents: int
    currency: str
    provider: str
    ledger: str
    verdict: Verdict


def verdict(payment: ProviderPayment, facts: LedgerFacts) -> Verdict:
    """Whether the ledger did with the payment what the provider's status asks."""
    if not payment.paid:
        return Verdict.credit_without_payment if _keeps(facts) else Verdict.ok
    if not facts.credited:
        if facts.said() == "nothing":
            return Verdict.missing
        return Verdict.paid_not_credited if payment.kept_cents else Verdict.ok
    provider_refunded = None if payment.kept_cents == 0 else payment.refunded_cents
    if payment.status == "dispute won":
        provider_refunded = payment.refunded_cents
    ledger_refunded = 0 if isinstance(facts.reversed, PackageRestored) else facts.refunded_cents
    return Verdict.ok if provider_refunded == ledger_refunded else Verdict.refund_differs


def _keeps(facts: LedgerFacts) -> bool:
    return facts.credited and facts.refunded_cents is not None


def reconcile(
    payments: Iterable[ProviderPayment],
    facts: Mapping[str, LedgerFacts],
    purchases: Iterable[LedgerPurchase],
    since: int,
) -> list[Row]:
    """A row for each provider payment created at ``since`` (unix seconds) or later, then one
    for each purchase the provider does not know (``payments`` may reach further back than
    ``since``: a payment taken just before it and credited just after is known)."""
    known = {}
    rows = []
    for payment in payments:
        known[payment.payment_ref] = payment
        if payment.created < since:
            continue
        found = facts.get(payment.payment_ref, LedgerFacts())
        rows.append(
            Row(
                payment_ref=payment.payment_ref,
                account_id=payment.account_id or "",
                package=payment.package or "",
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                provider=_status(payment),
                ledger=found.said(),
                verdict=verdict(payment, found),
            )
        )
    for purchase in purchases:
        if purchase.payment_ref in known:
            continue
        rows.append(
            Row(
                payment_ref=purchase.payment_ref,
                account_id=purchase.account_id,
                package=purchase.package,
                amount_cents=purchase.price_cents,
                currency=purchase.currency,
                provider="unknown",
                ledger="credited",
                verdict=Verdict.credit_without_payment
                if purchase.by_provider
                else Verdict.other_source,
            )
        )
    return rows


def _status(payment: ProviderPayment) -> str:
    if payment.status == "refunded partly":
        return f"refunded {payment.refunded_cents} cents"
    return payment.status


def problems(rows: Iterable[Row]) -> int:
    """The rows a cron must alert on."""
    return sum(row.verdict.problem for row in rows)
