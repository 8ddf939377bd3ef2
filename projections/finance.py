"""What an account's credits are worth to finance, folded from its events: pure, no I/O.

Purchased credits never expire, so each unspent one is money received for a service not yet
delivered (deferred revenue). Each purchased lot remembers its price when bought; revenue is
recognised per lot as ``price_cents * gone // credits`` cumulatively (``gone``: credits used,
refunded or forfeited, net of what came back), so the cents a lot ever recognises sum to its
price exactly and no fractional cent is lost or made up.

Figures are kept per calendar month (UTC) of the events: ``Books.period`` is the account's
latest month, and an event of a later month starts a new one whose opening is the previous
closing. A month once left is never touched again, so a closed month's report never changes.
Subscription credits (by plan) and granted credits are counted too: granted, used, expired.
Usage is kept per day and tool for the page's chart (``Books.today``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from events.ledger import (
    CreditsExpired,
    CreditsGranted,
    CycleStarted,
    Draw,
    Forfeit,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    LotKind,
    PackagePartlyRefunded,
    PackagePurchased,
    PackageRefunded,
    PackageRestored,
    PlanUpgraded,
    PurchaseReversed,
    ToolUsed,
    UsageRefunded,
)

Today = Mapping[str, tuple[int, int]]  # tool: (uses, credits) on one day
Category = Literal["in", "used", "refunded", "expired"]
NO_PLAN = "(none)"
_KIND_OF_ORIGIN: dict[type[LedgerEvent], LotKind] = {
    CycleStarted: "subscription",
    PlanUpgraded: "subscription",
    CreditsGranted: "granted",
    PackagePurchased: "purchased",
}


@dataclass(frozen=True, slots=True)
class PricedLot:
    """A purchased lot: its credits and price when bought, and its credits gone so far."""

    credits: int
    price_cents: int
    gone: int = 0

    @property
    def value_gone_cents(self) -> int:
        return self.price_cents * self.gone // self.credits if self.credits else 0

    @property
    def outstanding(self) -> tuple[int, int]:
        """(credits, cents) not yet delivered."""
        return self.credits - self.gone, self.price_cents - self.value_gone_cents


@dataclass(frozen=True, slots=True)
class Period:
    """One account's month. Purchased credits and their value in cents: ``opening + bought -
    consumed - refunded - forfeited = closing``; subscription credits by plan and granted
    credits: (granted, used, expired)."""

    month: str  # YYYY-MM
    opening: int = 0
    opening_cents: int = 0
    bought: int = 0
    bought_cents: int = 0
    consumed: int = 0
    consumed_cents: int = 0
    refunded: int = 0
    refunded_cents: int = 0
    forfeited: int = 0
    forfeited_cents: int = 0
    closing: int = 0
    closing_cents: int = 0
    subscription: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    granted: tuple[int, int, int] = (0, 0, 0)

    @property
    def balanced(self) -> bool:
        """Whether the period's identity holds to the credit and the cent."""
        flows = (self.bought, self.consumed, self.refunded, self.forfeited)
        cents = (self.bought_cents, self.consumed_cents, self.refunded_cents, self.forfeited_cents)
        return self.opening + flows[0] - sum(flows[1:]) == self.closing and (
            self.opening_cents + cents[0] - sum(cents[1:]) == self.closing_cents
        )


@dataclass(frozen=True, slots=True)
class Books:
    """One account's finance state: its purchased lots' prices, which plan each cycle's lot
    belongs to, the latest month's figures and the latest day's usage by tool."""

    lots: Mapping[str, PricedLot] = field(default_factory=dict)
    plans: Mapping[str, str] = field(default_factory=dict)
    period: Period | None = None
    day: str = ""  # YYYY-MM-DD of ``today``
    today: Today = field(default_factory=dict)

    def outstanding(self) -> tuple[int, int]:
        """Purchased (credits, cents) not yet delivered, from the lots."""
        pairs = [lot.outstanding for lot in self.lots.values()]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def fold(books: Books, event: LedgerEvent) -> Books:
    """The books after one more event of the account."""
    utc = event.occurred_at.astimezone(UTC)
    month = f"{utc.year:04d}-{utc.month:02d}"
    period = books.period
    if period is None or month > period.month:
        credits, cents = books.outstanding()
        period = Period(month, credits, cents, closing=credits, closing_cents=cents)
    lots, plans = books.lots, books.plans
    match event:
        case PackagePurchased():
            lots = {**lots, event.lot_id: PricedLot(event.credits, event.price_cents)}
        case CycleStarted(lot_id=lot_id, plan=plan) | PlanUpgraded(lot_id=lot_id, to_plan=plan):
            plans = {**plans, lot_id: plan}
    # The period's changes are gathered and applied once: this runs for every event.
    changes: dict[str, Any] = {}
    for category, draw in moves(event):
        lots = _count(period, plans, lots, changes, category, draw)
    if lots is not books.lots:  # only a purchased lot moves the closing
        changes["closing"], changes["closing_cents"] = Books(lots).outstanding()
    if changes:
        period = Period(*[changes.get(name, getattr(period, name)) for name in _PERIOD_FIELDS])
    return _used_today(Books(lots, plans, period, books.day, books.today), event, utc)


def moves(event: LedgerEvent) -> Iterable[tuple[Category, Draw]]:
    """What the event did to each lot, as (category, signed draw)."""
    match event:
        case CycleStarted() | PlanUpgraded() | CreditsGranted() | PackagePurchased():
            kind = _KIND_OF_ORIGIN[type(event)]
            if event.credits:
                yield (
                    "in",
                    Draw.model_construct(lot_id=event.lot_id, kind=kind, credits=event.credits),
                )
        case CreditsExpired():
            if event.credits:
                yield (
                    "expired",
                    Draw.model_construct(
                        lot_id=event.lot_id, kind=event.kind, credits=event.credits
                    ),
                )
        case ToolUsed():
            yield from (("used", d) for d in event.draws)
        case HoldSettled():
            yield from (("used", d) for d in event.draws)
            yield from _forfeits(event.forfeited)
        case HoldReleased() | HoldExpired():
            yield from _forfeits(event.forfeited)
        case UsageRefunded():
            for draw in (*event.returned, *event.forfeited):
                yield "used", _negated(draw)
            yield from _forfeits(event.forfeited)
        case PackageRefunded() | PurchaseReversed() | PackagePartlyRefunded():
            if event.credits_removed:
                yield (
                    "refunded",
                    Draw.model_construct(
                        lot_id=event.lot_id, kind="purchased", credits=event.credits_removed
                    ),
                )
        case PackageRestored():
            if event.credits:
                yield (
                    "refunded",
                    Draw.model_construct(
                        lot_id=event.lot_id, kind="purchased", credits=-event.credits
                    ),
                )


def _forfeits(forfeited: Iterable[Forfeit]) -> Iterable[tuple[Category, Draw]]:
    """Credits given back to a lot that could not take them: a refunded package's credits
    go with its refund, a lot past its time's expire."""
    for f in forfeited:
        yield ("refunded" if f.reason == "removed" else "expired"), f


def _negated(draw: Draw) -> Draw:
    return Draw.model_construct(lot_id=draw.lot_id, kind=draw.kind, credits=-draw.credits)


_PURCHASED_COLUMN: dict[Category, str] = {
    "used": "consumed",
    "refunded": "refunded",
    "expired": "forfeited",
}
_COLUMN: dict[Category, int] = {"in": 0, "used": 1, "expired": 2, "refunded": 2}
_PERIOD_FIELDS = Period.__slots__  # in the order of its fields


def _count(
    period: Period,
    plans: Mapping[str, str],
    lots: Mapping[str, PricedLot],
    changes: dict[str, Any],
    category: Category,
    draw: Draw,
) -> Mapping[str, PricedLot]:
    """Add one move to the period's ``changes`` (and, for a purchased lot, to the lot's
    credits gone: the lots returned are then a new mapping)."""
    n = draw.credits
    if draw.kind == "purchased":
        if category == "in":
            _add_to(changes, period, "bought", n, lots[draw.lot_id].price_cents)
            return lots
        lot = lots.get(draw.lot_id) or PricedLot(0, 0)
        moved = PricedLot(lot.credits, lot.price_cents, lot.gone + n)
        cents = moved.value_gone_cents - lot.value_gone_cents
        _add_to(changes, period, _PURCHASED_COLUMN[category], n, cents)
        return {**lots, draw.lot_id: moved}
    column = _COLUMN[category]
    if draw.kind == "granted":
        changes["granted"] = _add(changes.get("granted", period.granted), column, n)
        return lots
    plan = plans.get(draw.lot_id, NO_PLAN)
    subscription = changes.get("subscription")
    if subscription is None:
        subscription = changes["subscription"] = dict(period.subscription)
    subscription[plan] = _add(subscription.get(plan, (0, 0, 0)), column, n)
    return lots


def _add_to(changes: dict[str, Any], period: Period, name: str, n: int, cents: int) -> None:
    """Add ``n`` credits and ``cents`` to the period's ``name`` and ``name``_cents."""
    priced = f"{name}_cents"
    changes[name] = changes.get(name, getattr(period, name)) + n
    changes[priced] = changes.get(priced, getattr(period, priced)) + cents


def _add(figures: tuple[int, int, int], column: int, n: int) -> tuple[int, int, int]:
    out = list(figures)
    out[column] += n
    return out[0], out[1], out[2]


def _used_today(books: Books, event: LedgerEvent, utc: datetime) -> Books:
    """Count a use (or a settled hold, at ``utc``, its time in UTC) towards its day's usage of
    its tool."""
    if not isinstance(event, ToolUsed | HoldSettled):
        return books
    day = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
    today = books.today if day <= books.day else {}
    uses, credits = today.get(event.tool, (0, 0))
    units = event.units if isinstance(event, ToolUsed) else 1
    today = {**today, event.tool: (uses + units, credits + event.credits)}
    return Books(books.lots, books.plans, books.period, max(day, books.day), today)


def dump(books: Books) -> dict[str, Any]:
    """The books as JSON-ready data, kept in the balance row."""
    period = books.period
    return {
        "lots": {k: [v.credits, v.price_cents, v.gone] for k, v in books.lots.items()},
        "plans": dict(books.plans),
        "period": None if period is None else _period_document(period),
        "day": books.day,
        "today": {k: list(v) for k, v in books.today.items()},
    }


def load(doc: Mapping[str, Any]) -> Books:
    """The books back from ``dump``; raises ``ValueError`` on anything unreadable."""
    try:
        period = doc["period"]
        return Books(
            lots={k: PricedLot(*v) for k, v in doc["lots"].items()},
            plans=dict(doc["plans"]),
            period=None if period is None else period_of(period),
            day=doc["day"],
            today={k: (v[0], v[1]) for k, v in doc["today"].items()},
        )
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"unreadable books: {error!r}") from error


def _period_document(period: Period) -> dict[str, Any]:
    names = [n for n in Period.__slots__ if n not in ("subscription", "granted")]
    doc: dict[str, Any] = {n: getattr(period, n) for n in names}
    doc["subscription"] = {k: list(v) for k, v in period.subscription.items()}
    doc["granted"] = list(period.granted)
    return doc


def period_of(doc: Mapping[str, Any]) -> Period:
    fields_ = dict(doc)
    fields_["subscription"] = {k: tuple(v) for k, v in doc["subscription"].items()}
    fields_["granted"] = tuple(doc["granted"])
    return Period(**fields_)
