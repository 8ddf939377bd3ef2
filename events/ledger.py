"""Ledger events: the facts stored in each account's stream, in past tense.

Every event names the ``command_id`` that caused it. Charges and returns say exactly which lot
paid how much (``Draw``), so history replays identically after prices or rules change.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from events.commands import BillingInterval, one_utc
from events.refusals import Detail

LotKind = Literal["subscription", "purchased", "granted"]
Reversal = Literal["refund", "chargeback"]
Moment = Annotated[AwareDatetime, AfterValidator(one_utc)]  # UTC as ``datetime.UTC``


class Draw(BaseModel):
    """Credits that moved between one lot and a use, hold or refund."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lot_id: str
    kind: LotKind
    credits: int = Field(gt=0)
    lot_seq: int | None = None
    """A package's lot only: its place in the drawdown order (the lot's ``seq``). An emptied
    package's lot closes; credits given back reopen it at this age, not as the newest lot."""


class Forfeit(Draw):
    """Credits given back to a lot that can no longer take them: they expire or are removed."""

    reason: Literal["expired", "removed"]


class LedgerEvent(BaseModel):
    """Fields every ledger event carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: str
    occurred_at: Moment


class CycleStarted(LedgerEvent):
    """Billing renewed the plan for a cycle. Its credits are spendable from ``cycle_start``
    (an early renewal waits for it) until ``cycle_end``, or until the next cycle starts.

    ``expected_plan`` is set when billing renewed another plan than the ledger expected (a
    scheduled downgrade or an upgrade that billing did not carry over): billing's plan is
    granted, and the mismatch stays on record for the auditor."""

    type: Literal["CycleStarted"] = "CycleStarted"
    plan: str
    billing_interval: BillingInterval
    cycle_start: Moment
    cycle_end: Moment
    lot_id: str
    credits: int
    expected_plan: str | None = None


class CreditsExpired(LedgerEvent):
    """Unused credits of a lot ran out of time (or their cycle was renewed): nothing rolls over."""

    type: Literal["CreditsExpired"] = "CreditsExpired"
    lot_id: str
    kind: LotKind
    credits: int
    expired_at: Moment


class PackagePurchased(LedgerEvent):
    type: Literal["PackagePurchased"] = "PackagePurchased"
    lot_id: str
    package: str
    credits: int
    price_cents: int
    currency: str = Field(min_length=3, max_length=3)
    payment_ref: str
    catalog_version: int
    top_up: str | None = None  # the automatic top-up it completes (its request id)


class ToolUsed(LedgerEvent):
    type: Literal["ToolUsed"] = "ToolUsed"
    tool: str
    units: int
    unit_cost_credits: int
    catalog_version: int
    credits: int
    draws: tuple[Draw, ...]


class CreditsReserved(LedgerEvent):
    type: Literal["CreditsReserved"] = "CreditsReserved"
    hold_id: str
    tool: str
    units: int | None
    unit_cost_credits: int | None
    catalog_version: int
    credits: int
    draws: tuple[Draw, ...]
    expires_at: Moment


class HoldSettled(LedgerEvent):
    type: Literal["HoldSettled"] = "HoldSettled"
    hold_id: str
    tool: str
    credits: int
    draws: tuple[Draw, ...]
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class HoldReleased(LedgerEvent):
    type: Literal["HoldReleased"] = "HoldReleased"
    hold_id: str
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class HoldExpired(LedgerEvent):
    """A hold passed its ``expires_at`` unsettled; everything it held went back."""

    type: Literal["HoldExpired"] = "HoldExpired"
    hold_id: str
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class UsageRefunded(LedgerEvent):
    type: Literal["UsageRefunded"] = "UsageRefunded"
    of_command_id: str
    credits: int
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class CreditsGranted(LedgerEvent):
    type: Literal["CreditsGranted"] = "CreditsGranted"
    lot_id: str
    credits: int
    expires_at: Moment | None
    reason: str


class PackageRefunded(LedgerEvent):
    """A package's payment was reversed (refunded, or charged back: ``reason``): what remained
    is removed, ``shortfall_credits`` had already been spent, and ``credits_held`` are set aside
    by open holds (what a hold settles is spent then, what it gives back is removed). Events
    recorded before ``credits_held`` counted held credits in the shortfall."""

    type: Literal["PackageRefunded"] = "PackageRefunded"
    payment_ref: str
    lot_id: str
    credits_removed: int
    shortfall_credits: int
    reason: Reversal = "refund"
    credits_held: int = 0


class PaymentReversed(LedgerEvent):
    """A payment was refunded or charged back before the package it paid for was recorded
    (providers do not promise order): when the purchase comes, its credits are removed at once."""

    type: Literal["PaymentReversed"] = "PaymentReversed"
    payment_ref: str
    reason: Reversal
    refunded_cents: int | None = None
    """A partial refund: how much of the payment was refunded so far, in all. None: all of it."""


class PurchaseReversed(LedgerEvent):
    """A package was bought with a payment already reversed (``PaymentReversed``): the credits
    it added (``PackagePurchased`` just before) were removed in the same decision."""

    type: Literal["PurchaseReversed"] = "PurchaseReversed"
    payment_ref: str
    lot_id: str
    credits_removed: int
    reason: Reversal
    refunded_cents: int | None = None
    """The payment was partly refunded first (this much, in all): ``credits_removed`` is the
    refunded share of the package and the rest stays. None: it was reversed whole."""


class PackagePartlyRefunded(LedgerEvent):
    """Part of a package's payment was refunded: the credits the refunded share paid for leave
    the lot, rounded down so the customer keeps any fraction of a credit. ``refunded_cents``
    and ``credits_refunded`` are the payment's refunds so far, in all (a provider reports the
    refunded amount cumulatively); this refund's own part is ``credits_removed`` from what
    remained plus ``shortfall_credits`` already spent or held."""

    type: Literal["PackagePartlyRefunded"] = "PackagePartlyRefunded"
    payment_ref: str
    lot_id: str
    refunded_cents: int
    credits_refunded: int
    credits_removed: int
    shortfall_credits: int


class PackageRestored(LedgerEvent):
    """The merchant won the dispute over a charged-back payment: what the chargeback removed
    (``credits``) is back in the package's lot. A dispute won before its chargeback was
    recorded restores nothing (0) and makes that chargeback remove nothing."""

    type: Literal["PackageRestored"] = "PackageRestored"
    payment_ref: str
    lot_id: str
    credits: int


class PaymentParked(LedgerEvent):
    """Paid, not credited: the amount paid is not the price of the package (the price changed
    after checkout and the checkout's quote is missing or does not match, or the package is no
    longer sold). The money is on record for an operator; nothing was added."""

    type: Literal["PaymentParked"] = "PaymentParked"
    payment_ref: str
    package: str
    paid_cents: int
    currency: str
    price_cents: int | None
    price_currency: str | None


class PlanUpgraded(LedgerEvent):
    type: Literal["PlanUpgraded"] = "PlanUpgraded"
    from_plan: str
    to_plan: str
    lot_id: str
    credits: int


class PlanDowngradeScheduled(LedgerEvent):
    type: Literal["PlanDowngradeScheduled"] = "PlanDowngradeScheduled"
    from_plan: str
    to_plan: str
    effective_at: Moment


class PlanDowngradeCancelled(LedgerEvent):
    type: Literal["PlanDowngradeCancelled"] = "PlanDowngradeCancelled"
    plan: str


class ExpiryChecked(LedgerEvent):
    """A scheduler's ``ExpireHolds`` was decided: whatever had expired by ``occurred_at`` is
    recorded before it (``CreditsExpired``, ``HoldExpired``), so a repeat is a repeat."""

    type: Literal["ExpiryChecked"] = "ExpiryChecked"


class PaymentMethodSaved(LedgerEvent):
    """A card is saved for off-session charges (its last four digits, the provider's id)."""

    type: Literal["PaymentMethodSaved"] = "PaymentMethodSaved"
    last4: str
    provider_ref: str


class AutoTopUpConfigured(LedgerEvent):
    type: Literal["AutoTopUpConfigured"] = "AutoTopUpConfigured"
    threshold_credits: int
    package: str
    max_per_month: int


class AutoTopUpDisabled(LedgerEvent):
    """Automatic top-ups are off: by the account (``account``), or because the saved card
    was declined on every attempt (``card_declined``: off until a new card is saved)."""

    type: Literal["AutoTopUpDisabled"] = "AutoTopUpDisabled"
    reason: Literal["account", "card_declined"]


class TopUpRequested(LedgerEvent):
    """The decision before it left the spendable balance below the threshold: one package is
    to be charged to the saved card, not before ``not_before``, keyed at the provider by
    ``request_id`` (so it is charged once however often it is asked). ``attempt`` 2 and 3 are
    retries of a declined charge; only attempt 1 counts against the month's cap."""

    type: Literal["TopUpRequested"] = "TopUpRequested"
    request_id: str
    package: str
    credits: int
    price_cents: int
    currency: str
    payment_method: str
    attempt: int
    not_before: Moment
    balance_credits: int
    threshold_credits: int


class TopUpFailed(LedgerEvent):
    """The charge of ``request_id`` did not go through; ``reason`` is the provider's."""

    type: Literal["TopUpFailed"] = "TopUpFailed"
    request_id: str
    attempt: int
    reason: str


class CommandRefused(LedgerEvent):
    """The rules said no. Kept in the stream for audit and so a repeat gets the same answer."""

    type: Literal["CommandRefused"] = "CommandRefused"
    command_type: str
    code: str
    message: str
    details: dict[str, Detail]


AnyLedgerEvent = Annotated[
    CycleStarted
    | CreditsExpired
    | PackagePurchased
    | ToolUsed
    | CreditsReserved
    | HoldSettled
    | HoldReleased
    | HoldExpired
    | UsageRefunded
    | CreditsGranted
    | PackageRefunded
    | PaymentReversed
    | PurchaseReversed
    | PackagePartlyRefunded
    | PackageRestored
    | PaymentParked
    | PlanUpgraded
    | PlanDowngradeScheduled
    | PlanDowngradeCancelled
    | ExpiryChecked
    | PaymentMethodSaved
    | AutoTopUpConfigured
    | AutoTopUpDisabled
    | TopUpRequested
    | TopUpFailed
    | CommandRefused,
    Field(discriminator="type"),
]
LEDGER_EVENTS: TypeAdapter[AnyLedgerEvent] = TypeAdapter(AnyLedgerEvent)

DecisionEvent = (
    CycleStarted
    | PackagePurchased
    | ToolUsed
    | CreditsReserved
    | HoldSettled
    | HoldReleased
    | UsageRefunded
    | CreditsGranted
    | PackageRefunded
    | PaymentReversed
    | PurchaseReversed
    | PackagePartlyRefunded
    | PackageRestored
    | PaymentParked
    | PlanUpgraded
    | PlanDowngradeScheduled
    | PlanDowngradeCancelled
    | ExpiryChecked
    | PaymentMethodSaved
    | AutoTopUpConfigured
    | AutoTopUpDisabled
    | TopUpFailed
    | CommandRefused
)
# Events a command's decision ends with; the others (expiries) are time catching up with the
# account and may come before it. Kept once, as the union above.
DECISION_EVENTS: tuple[type[LedgerEvent], ...] = get_args(DecisionEvent)
