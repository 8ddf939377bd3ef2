"""An account's history as an auditor reads it: one row per event, with what each event did
to each kind of credit and the running balance after it. Pure: events in, rows out.

What each event did is said in words (``describe``): with the catalog's ``Names``, as the
account's page shows it ("Keyword suggestions × 2"); without them, as the auditor's command
line prints it, ids and unit costs included ("keyword_suggestions x2 at 1: -2").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from events.ledger import (
    AutoTopUpConfigured,
    AutoTopUpDisabled,
    CommandRefused,
    CreditsExpired,
    CreditsGranted,
    CreditsReserved,
    CycleStarted,
    ExpiryChecked,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    PackagePartlyRefunded,
    PackagePurchased,
    PackageRefunded,
    PackageRestored,
    PaymentMethodSaved,
    PaymentParked,
    PaymentReversed,
    PlanDowngradeCancelled,
    PlanDowngradeScheduled,
    PlanUpgraded,
    PurchaseReversed,
    ToolUsed,
    TopUpFailed,
    TopUpRequested,
    UsageRefunded,
)
from services.ledger.core import Account, Balance, Catalog, balance, catch_up, evolve


@dataclass(frozen=True, slots=True)
class Names:
    """The catalog's names of its tools, packages and plans, as people read them. An id the
    catalog does not know (a tool since withdrawn) is shown as itself."""

    tools: Mapping[str, str] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    plans: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, catalog: Catalog) -> Names:
        return cls(
            tools={tool: price.name for tool, price in catalog.tools.items()},
            packages={package: offer.name for package, offer in catalog.packages.items()},
            plans={plan: terms.name for plan, terms in catalog.plans.items()},
        )


@dataclass(frozen=True, slots=True)
class Row:
    version: int
    at: datetime
    command_id: str
    event: str
    what: str
    item: str
    subscription_change: int
    purchased_change: int
    granted_change: int
    held_change: int
    subscription: int
    purchased: int
    granted: int
    held: int
    total: int


def rows(events: Iterable[LedgerEvent], names: Names | None = None) -> list[Row]:
    """Every event with its effect on the balance and the running figures after it."""
    state, before, table = Account(), balance(Account()), []
    for event in events:
        state = evolve(state, event)
        after = balance(state)
        table.append(row(event, state.version, before, after, names))
        before = after
    return table


def row(
    event: LedgerEvent, version: int, before: Balance, after: Balance, names: Names | None = None
) -> Row:
    """One event of the history: what it did to each kind of credit, and the figures after
    (said with the catalog's ``names`` when given)."""
    return Row(*line(0, "", event, version, before, after, names)[2:])


Line = tuple[Any, ...]
"""(position in the ledger's log, account, *a Row's fields): a row as the read model's table
takes it."""


def line(
    position: int,
    account_id: str,
    event: LedgerEvent,
    version: int,
    before: Balance,
    after: Balance,
    names: Names | None = None,
) -> Line:
    """``row`` of ``account_id``'s event at ``position`` in the log, as a plain tuple: the
    projector makes one per event and only ever writes it to the table, so it builds no
    ``Row``."""
    return (
        position,
        account_id,
        version,
        event.occurred_at,
        event.command_id,
        type(event).__name__,
        describe(event, names),
        item_of(event),
        after.subscription - before.subscription,
        after.purchased - before.purchased,
        after.granted - before.granted,
        after.held - before.held,
        after.subscription,
        after.purchased,
        after.granted,
        after.held,
        after.subscription + after.purchased + after.granted,
    )


def at(events: Iterable[LedgerEvent], moment: datetime) -> tuple[Account, Balance]:
    """The account and its spendable balance at ``moment``: every event up to it, and the
    expiries that time had brought by then even if no command had recorded them yet."""
    state = Account()
    for event in events:
        if event.occurred_at > moment:
            break
        state = evolve(state, event)
    for event in catch_up(state, moment, "audit"):
        state = evolve(state, event)
    return state, balance(state)


def describe(event: LedgerEvent, names: Names | None = None) -> str:
    """What ``event`` did, in words: for people with the catalog's ``names``, for the auditor
    (ids and unit costs) without them."""
    if names is not None and (said := for_people(event, names)):
        return said
    match event:  # the most frequent first: each case missed costs a type check
        case ToolUsed():
            return f"{event.tool} x{event.units} at {event.unit_cost_credits}: -{event.credits}"
        case CommandRefused():
            return f"{event.command_type} refused: {event.message}"
        case CycleStarted():
            cycle = f"{event.plan} cycle {event.cycle_start:%Y-%m-%d} to {event.cycle_end:%Y-%m-%d}"
            mismatch = f" (expected {event.expected_plan})" if event.expected_plan else ""
            return f"{cycle}: +{event.credits}{mismatch}"
        case CreditsExpired():
            return f"{event.credits} {event.kind} credits expired"
        case PackagePurchased():
            return f"bought {event.package} ({event.price_cents / 100:.2f} {event.currency})"
        case CreditsReserved():
            return f"hold {event.hold_id} for {event.tool}: {event.credits} set aside"
        case HoldSettled():
            return f"hold {event.hold_id} settled at {event.credits}"
        case HoldReleased() | HoldExpired():
            verb = "released" if isinstance(event, HoldReleased) else "expired"
            return f"hold {event.hold_id} {verb}"
        case UsageRefunded():
            return f"refund of {event.of_command_id}: {event.credits}"
        case CreditsGranted():
            return f"granted {event.credits}: {event.reason}"
        case PackageRefunded():
            verb = "refunded" if event.reason == "refund" else "charged back"
            return f"payment {event.payment_ref} {verb}: -{event.credits_removed}"
        case PurchaseReversed():
            first = "reversed" if event.refunded_cents is None else "partly refunded"
            return f"payment {event.payment_ref} was {first} first: -{event.credits_removed}"
        case PackagePartlyRefunded():
            so_far = f"{event.refunded_cents / 100:.2f} in all"
            removed = event.credits_removed + event.shortfall_credits
            return f"payment {event.payment_ref} partly refunded ({so_far}): -{removed}"
        case PaymentReversed():
            return f"payment {event.payment_ref} reversed ({event.reason}) before its purchase"
        case PackageRestored():
            return f"dispute over payment {event.payment_ref} won: +{event.credits}"
        case PaymentParked():
            paid = f"{event.paid_cents / 100:.2f} {event.currency}"
            return f"payment {event.payment_ref} of {paid} for {event.package} parked: not credited"
        case PlanUpgraded():
            return f"upgraded {event.from_plan} to {event.to_plan}: +{event.credits}"
        case PlanDowngradeScheduled():
            return f"downgrade to {event.to_plan} from {event.effective_at:%Y-%m-%d}"
        case PlanDowngradeCancelled():
            return f"downgrade cancelled, staying on {event.plan}"
        case ExpiryChecked():
            return "expiries checked"
        case PaymentMethodSaved():
            return f"card ending {event.last4} saved for top-ups"
        case AutoTopUpConfigured():
            return (
                f"auto top-up on: {event.package} below {event.threshold_credits} credits, "
                f"at most {event.max_per_month} a month"
            )
        case AutoTopUpDisabled():
            why = "the card was declined" if event.reason == "card_declined" else "by the account"
            return f"auto top-up off: {why}"
        case TopUpRequested():
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            return f"top-up of {event.package} requested at {event.balance_credits} credits{retry}"
        case TopUpFailed():
            return f"top-up attempt {event.attempt} failed: {event.reason}"
    return type(event).__name__  # pragma: no cover - every event type is matched above


def for_people(event: LedgerEvent, names: Names) -> str:
    """The events people read by the catalog's names, said with them; "" for the others,
    whose auditor's text names nothing from the catalog."""
    match event:
        case ToolUsed():
            return f"{names.tools.get(event.tool, event.tool)} × {event.units}"
        case CreditsReserved():
            return f"{names.tools.get(event.tool, event.tool)}: {event.credits} set aside"
        case PackagePurchased():
            automatic = " (automatic top-up)" if event.top_up is not None else ""
            return f"Bought {names.packages.get(event.package, event.package)}{automatic}"
        case TopUpRequested():
            package = names.packages.get(event.package, event.package)
            return f"Automatic top-up: {package} asked at {event.balance_credits} credits"
        case AutoTopUpConfigured():
            package = names.packages.get(event.package, event.package)
            return f"Automatic top-up on: {package} below {event.threshold_credits} credits"
        case PaymentMethodSaved():
            return f"Card ending {event.last4} saved for automatic top-ups"
        case CycleStarted():
            plan, end = names.plans.get(event.plan, event.plan), event.cycle_end
            return f"{plan} plan: {event.credits} credits until {end:%b} {end.day}"
    return ""


def item_of(event: LedgerEvent) -> str:
    for name in _item_fields(type(event)):
        value = getattr(event, name, None)
        if isinstance(value, str):
            return value
    return ""


ITEMS = ("tool", "package", "plan", "to_plan", "hold_id")


@cache
def _item_fields(kind: type) -> tuple[str, ...]:
    """Which of ``ITEMS`` an event type has: asking a pydantic model for an attribute it
    lacks raises inside ``__getattr__``, which was most of the projector's cost of a row."""
    fields = getattr(kind, "model_fields", None)
    if fields is None:
        return ITEMS
    return tuple(n for n in ITEMS if n in fields or isinstance(getattr(kind, n, None), property))
