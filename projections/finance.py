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

from collections.abc import Mapping
from datetime import UTC, date
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from events.ledger import (
    CreditsExpired,
    CreditsGranted,
    CycleStarted,
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
Move = tuple[Category, str, LotKind, int]  # (category, lot, its kind, signed credits)
NO_PLAN = "(none)"
_NOTHING: Mapping[Any, Any] = MappingProxyType({})  # a shared empty default, read-only


# Named tuples rather than frozen dataclasses: the fold makes a ``Books`` per event, and a
# ``Period`` and a ``PricedLot`` per moving event; a tuple is built several times faster.
class PricedLot(NamedTuple):
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


class Period(NamedTuple):
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
    subscription: Mapping[str, tuple[int, int, int]] = _NOTHING
    granted: tuple[int, int, int] = (0, 0, 0)

    @property
    def balanced(self) -> bool:
        """Whether the period's identity holds to the credit and the cent."""
        flows = (self.bought, self.consumed, self.refunded, self.forfeited)
        cents = (self.bought_cents, self.consumed_cents, self.refunded_cents, self.forfeited_cents)
        return self.opening + flows[0] - sum(flows[1:]) == self.closing and (
            self.opening_cents + cents[0] - sum(cents[1:]) == self.closing_cents
        )


class Books(NamedTuple):
    """One account's finance state: its purchased lots' prices, which plan each cycle's lot
    belongs to, the latest month's figures and the latest day's usage by tool."""

    lots: Mapping[str, PricedLot] = _NOTHING
    plans: Mapping[str, str] = _NOTHING
    period: Period | None = None
    day: str = ""  # YYYY-MM-DD of ``today``
    today: Today = _NOTHING

    def outstanding(self) -> tuple[int, int]:
        """Purchased (credits, cents) not yet delivered, from the lots."""
        return _outstanding(self.lots)


def fold(books: Books, event: LedgerEvent) -> Books:
    """The books after one more event of the account."""
    period, day = opened(books, event)
    if type(event) is ToolUsed:
        return used(books, event, period, day)
    return moved(books, event, period, day)


def opened(books: Books, event: LedgerEvent) -> tuple[Period, str]:
    """The period ``event`` is counted in (the latest, or a new month's opening at the
    previous closing) and its day (YYYY-MM-DD, UTC)."""
    at = event.occurred_at
    # A stored event's time at UTC already carries ``datetime.UTC``: no conversion to make.
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    month, day = _month_and_day(utc.toordinal())
    period = books.period
    if period is None or month > period.month:
        credits, cents = _outstanding(books.lots)
        period = Period(month, credits, cents, closing=credits, closing_cents=cents)
    return period, day


def moved(books: Books, event: LedgerEvent, period: Period, day: str) -> Books:
    """``fold`` of any event in ``period`` on ``day``: its ``moves`` counted one by one."""
    lots, plans = books.lots, books.plans
    if isinstance(event, PackagePurchased):
        lots = {**lots, event.lot_id: PricedLot(event.credits, event.price_cents)}
    elif isinstance(event, CycleStarted):
        plans = {**plans, event.lot_id: event.plan}
    elif isinstance(event, PlanUpgraded):
        plans = {**plans, event.lot_id: event.to_plan}
    counted = moves(event)
    if counted or lots is not books.lots:
        # The period's figures as a list, changed in place and made a period once.
        figures: list[Any] = list(period)
        for category, lot_id, lot_kind, n in counted:
            lots = _count(figures, period, plans, lots, category, lot_id, lot_kind, n)
        if lots is not books.lots:  # only a purchased lot moves the closing
            figures[_CLOSING], figures[_CLOSING + 1] = _outstanding(lots)
        period = Period._make(figures)
    if isinstance(event, ToolUsed | HoldSettled):
        return Books(lots, plans, period, *_used_today(books, event, day))
    return Books(lots, plans, period, books.day, books.today)


def used(books: Books, event: ToolUsed, period: Period, day: str) -> Books:
    """``moved`` of a use, the most frequent event, in one pass over its draws: the same
    books without a list of moves, the kinds' look-ups and a new mapping of lots per draw
    (and the named tuples made by ``tuple.__new__``: the figures are the period's own)."""
    figures: list[Any] = list(period)
    lots = books.lots
    for draw in event.draws:
        n, kind = draw.credits, draw.kind
        if kind == "purchased":
            lot = lots.get(draw.lot_id) or _NO_LOT
            gone = PricedLot(lot.credits, lot.price_cents, lot.gone + n)
            figures[_CONSUMED] += n
            figures[_CONSUMED + 1] += gone.value_gone_cents - lot.value_gone_cents
            if lots is books.lots:
                lots = dict(lots)
            lots[draw.lot_id] = gone  # type: ignore[index]  # our own copy
        elif kind == "granted":
            granted, used, expired = figures[_GRANTED]
            figures[_GRANTED] = (granted, used + n, expired)
        else:
            subscription = figures[_SUBSCRIPTION]
            if subscription is period.subscription:
                subscription = figures[_SUBSCRIPTION] = dict(subscription)
            plan = books.plans.get(draw.lot_id, NO_PLAN)
            granted, used, expired = subscription.get(plan, _NONE_YET)
            subscription[plan] = (granted, used + n, expired)
    if lots is not books.lots:
        figures[_CLOSING], figures[_CLOSING + 1] = _outstanding(lots)
    if event.draws:
        period = tuple.__new__(Period, figures)
    return tuple.__new__(Books, (lots, books.plans, period, *_used_today(books, event, day)))


def moves(event: LedgerEvent) -> list[Move]:
    """What the event did to each lot, as (category, lot, kind, signed credits)."""
    match event:
        case ToolUsed():
            return [("used", d.lot_id, d.kind, d.credits) for d in event.draws]
        case CycleStarted() | PlanUpgraded() | CreditsGranted() | PackagePurchased():
            kind = _KIND_OF_ORIGIN[type(event)]
            return [("in", event.lot_id, kind, event.credits)] if event.credits else []
        case CreditsExpired():
            return [("expired", event.lot_id, event.kind, event.credits)] if event.credits else []
        case HoldSettled():
            used: list[Move] = [("used", d.lot_id, d.kind, d.credits) for d in event.draws]
            return used + _forfeits(event.forfeited)
        case HoldReleased() | HoldExpired():
            return _forfeits(event.forfeited)
        case UsageRefunded():
            back: list[Move] = [
                ("used", d.lot_id, d.kind, -d.credits) for d in (*event.returned, *event.forfeited)
            ]
            return back + _forfeits(event.forfeited)
        case PackageRefunded() | PurchaseReversed() | PackagePartlyRefunded():
            n = event.credits_removed
            return [("refunded", event.lot_id, "purchased", n)] if n else []
        case PackageRestored():
            n = event.credits
            return [("refunded", event.lot_id, "purchased", -n)] if n else []
    return []


_KIND_OF_ORIGIN: dict[type[LedgerEvent], LotKind] = {
    CycleStarted: "subscription",
    PlanUpgraded: "subscription",
    CreditsGranted: "granted",
    PackagePurchased: "purchased",
}


def _forfeits(forfeited: tuple[Forfeit, ...]) -> list[Move]:
    """Credits given back to a lot that could not take them: a refunded package's credits
    go with its refund, a lot past its time's expire."""
    return [
        ("refunded" if f.reason == "removed" else "expired", f.lot_id, f.kind, f.credits)
        for f in forfeited
    ]


def _outstanding(lots: Mapping[str, PricedLot]) -> tuple[int, int]:
    credits = cents = 0
    for lot in lots.values():
        credits += lot.credits - lot.gone
        cents += lot.price_cents - lot.value_gone_cents
    return credits, cents


_FIELD = {name: n for n, name in enumerate(Period._fields)}
_CLOSING, _SUBSCRIPTION, _GRANTED = _FIELD["closing"], _FIELD["subscription"], _FIELD["granted"]
# Where a purchased lot's move is counted: (credits, cents) positions in the period.
_PURCHASED_AT: dict[Category, int] = {
    "in": _FIELD["bought"],
    "used": _FIELD["consumed"],
    "refunded": _FIELD["refunded"],
    "expired": _FIELD["forfeited"],
}
_COLUMN: dict[Category, int] = {"in": 0, "used": 1, "expired": 2, "refunded": 2}
_CONSUMED = _PURCHASED_AT["used"]
_NO_LOT = PricedLot(0, 0)
_NONE_YET = (0, 0, 0)


def _count(
    figures: list[Any],
    period: Period,
    plans: Mapping[str, str],
    lots: Mapping[str, PricedLot],
    category: Category,
    lot_id: str,
    kind: LotKind,
    n: int,
) -> Mapping[str, PricedLot]:
    """Add one move to the period's ``figures`` (and, for a purchased lot, to the lot's
    credits gone: the lots returned are then a new mapping)."""
    if kind == "purchased":
        at = _PURCHASED_AT[category]
        if category == "in":
            figures[at] += n
            figures[at + 1] += lots[lot_id].price_cents
            return lots
        lot = lots.get(lot_id) or PricedLot(0, 0)
        moved = PricedLot(lot.credits, lot.price_cents, lot.gone + n)
        figures[at] += n
        figures[at + 1] += moved.value_gone_cents - lot.value_gone_cents
        return {**lots, lot_id: moved}
    column = _COLUMN[category]
    if kind == "granted":
        figures[_GRANTED] = _add(figures[_GRANTED], column, n)
        return lots
    subscription = figures[_SUBSCRIPTION]
    if subscription is period.subscription:  # copied once per event, then changed in place
        subscription = figures[_SUBSCRIPTION] = dict(subscription)
    plan = plans.get(lot_id, NO_PLAN)
    subscription[plan] = _add(subscription.get(plan, (0, 0, 0)), column, n)
    return lots


def _add(figures: tuple[int, int, int], column: int, n: int) -> tuple[int, int, int]:
    out = list(figures)
    out[column] += n
    return out[0], out[1], out[2]


@lru_cache(maxsize=4096)
def _month_and_day(ordinal: int) -> tuple[str, str]:
    """The month (YYYY-MM) and day (YYYY-MM-DD) of a day, by its ordinal: formatting the two
    strings for every event costs more than the rest of a use's fold."""
    day = date.fromordinal(ordinal).isoformat()
    return day[:7], day


def _used_today(books: Books, event: ToolUsed | HoldSettled, day: str) -> tuple[str, Today]:
    """A use (or a settled hold, on ``day``, in UTC) counted towards its day's usage of its
    tool: the day and its usage after it."""
    today = books.today if day <= books.day else {}
    uses, credits = today.get(event.tool, (0, 0))
    units = event.units if isinstance(event, ToolUsed) else 1
    return max(day, books.day), {**today, event.tool: (uses + units, credits + event.credits)}


def dump(books: Books) -> dict[str, Any]:
    """The books as data for the balance row's JSON (``balance.dump``): the lots and the
    period as arrays, every mapping a dict. orjson writes neither a named tuple nor a
    read-only mapping itself, and handing one back to Python costs about 0.5 µs each, for
    every changed account of every page (BENCHMARKS.md, issue 26)."""
    period = books.period
    figures: list[Any] | None = None
    if period is not None:
        figures = list(period)
        figures[_SUBSCRIPTION] = _dict(period.subscription)
    return {
        "lots": {lot_id: list(lot) for lot_id, lot in books.lots.items()},
        "plans": _dict(books.plans),
        "period": figures,
        "day": books.day,
        "today": _dict(books.today),
    }


def _dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return mapping if isinstance(mapping, dict) else dict(mapping)


def load(doc: Mapping[str, Any]) -> Books:
    """The books back from ``dump``'s JSON; raises ``ValueError`` on anything unreadable. A
    period written as an object (rows from before periods were arrays) is read too."""
    try:
        period = doc["period"]
        return Books(
            lots={k: PricedLot(*v) for k, v in doc["lots"].items()},
            plans=dict(doc["plans"]),
            period=None if period is None else period_from(period),
            day=doc["day"],
            today={k: (v[0], v[1]) for k, v in doc["today"].items()},
        )
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(f"unreadable books: {error!r}") from error


def period_from(doc: Mapping[str, Any] | list[Any]) -> Period:
    """A period back from ``dump``'s JSON (an array, or an object as older rows wrote it)."""
    fields_ = dict(doc) if isinstance(doc, Mapping) else dict(zip(Period._fields, doc, strict=True))
    fields_["subscription"] = {k: (v[0], v[1], v[2]) for k, v in fields_["subscription"].items()}
    fields_["granted"] = tuple(fields_["granted"])
    return Period(**fields_)
