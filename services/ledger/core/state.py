"""An account's state and ``evolve``, the fold of ledger events into it.

``evolve`` holds no rule and never raises: it only writes down what an event says happened.
The state is what is open (lots that can still pay or take credits back, holds not yet
closed, the plan and its cycle), never the account's history: a lot or hold leaves the state
when it closes, and what the rules need to know of the past (a command already decided, a use
already refunded, a closed hold, a payment) is looked up in the store's index (``past.Past``).
So the state, its snapshots and the ledger's cache stay the same size however old the
account is. State is immutable (``immutables.Map``, one new tuple per event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from immutables import Map

from events.commands import BillingInterval
from events.ledger import (
    AutoTopUpConfigured,
    AutoTopUpDisabled,
    CommandRefused,
    CreditsExpired,
    CreditsGranted,
    CreditsReserved,
    CycleStarted,
    Draw,
    ExpiryChecked,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    LotKind,
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

Changes = dict[str, Any]
_EMPTY: Map[Any, Any] = Map()


class Lot(NamedTuple):
    """Credits of one origin (a cycle's allowance, a package, a grant) and what is left of them.

    Spendable from ``starts_at`` (None: from the start) until ``expires_at`` (None: never); a
    cycle's lot also ends when the next cycle starts (``lots.ends``). ``seq`` orders lots by
    when they were opened (the stream version)."""

    lot_id: str
    kind: LotKind
    credits: int
    remaining: int
    expires_at: datetime | None
    seq: int
    starts_at: datetime | None = None


class Hold(NamedTuple):
    """Credits set aside for long-running work, and the lots they came from."""

    hold_id: str
    tool: str
    credits: int
    draws: tuple[Draw, ...]
    expires_at: datetime


class TopUp(NamedTuple):
    """Automatic top-ups: the saved card, the rule (off while ``threshold_credits`` is None),
    the one request being charged, and what the month's cap has counted."""

    card_last4: str | None = None
    card_ref: str | None = None
    card_declined: bool = False  # every attempt was declined: no rule until a new card
    threshold_credits: int | None = None
    package: str | None = None
    max_per_month: int = 0
    in_flight: str | None = None  # the request id being charged
    failures: int = 0  # declined attempts of the current crossing
    month: str | None = None  # the calendar month (UTC, "2026-11") ``requested`` counts
    requested: int = 0
    last_failure: str | None = None  # the provider's reason for the latest decline

    @property
    def on(self) -> bool:
        return self.threshold_credits is not None


class Account(NamedTuple):
    """Everything the rules need to know about one account's present, folded from its events.

    Immutable; a named tuple rather than a frozen dataclass because folding creates one per
    event, and ``_replace`` is several times cheaper than ``dataclasses.replace``."""

    opened: bool = False
    plan: str | None = None
    plan_credits: int = 0
    billing_interval: BillingInterval | None = None
    cycle_start: datetime | None = None
    cycle_end: datetime | None = None
    subscription_lot_id: str | None = None
    pending_plan: str | None = None
    lots: Map[str, Lot] = _EMPTY  # open lots only
    holds: Map[str, Hold] = _EMPTY  # open holds only
    refunded: frozenset[str] = frozenset()  # lots of refunded packages: they take nothing back
    top_up: TopUp = TopUp()
    version: int = 0
    as_of: datetime | None = None  # the latest event's time: an account's time never goes back


_POSITION = {name: n for n, name in enumerate(Account._fields)}
_VERSION, _AS_OF = _POSITION["version"], _POSITION["as_of"]
_REMAINING = Lot._fields.index("remaining")
_new = tuple.__new__  # a new state or lot, field by field: several times cheaper than _replace


class Balance(NamedTuple):
    """Spendable credits by kind, and what open holds have set aside. A named tuple: the
    projector makes one per event (BENCHMARKS.md, issue 26)."""

    subscription: int
    purchased: int
    granted: int
    held: int

    @property
    def total(self) -> int:
        return self.subscription + self.purchased + self.granted


def balance(state: Account) -> Balance:
    """The balance as the events left it: expiries count once they are recorded, and a cycle
    renewed early counts from its start (once an event at or after it has been recorded)."""
    return _new(Balance, credits_by_kind(state))


def credits_by_kind(state: Account) -> tuple[int, int, int, int]:
    """``balance``'s figures as a plain tuple (subscription, purchased, granted, held): what
    the ledger's outcome needs, for every command, without a ``Balance`` built."""
    # One pass with plain locals: the ledger works this out for every outcome and the
    # projector for every event, so it is a hot loop (``started`` inlined).
    subscription = purchased = granted = 0
    now = state.as_of
    for lot in state.lots.values():
        starts_at = lot.starts_at
        if starts_at is not None and (now is None or starts_at > now):
            continue
        kind = lot.kind
        if kind == "subscription":
            subscription += lot.remaining
        elif kind == "purchased":
            purchased += lot.remaining
        else:
            granted += lot.remaining
    held = 0
    for hold in state.holds.values():
        held += hold.credits
    return subscription, purchased, granted, held


def started(lot: Lot, now: datetime | None) -> bool:
    """Whether the lot's credits have become spendable by ``now``."""
    return lot.starts_at is None or (now is not None and lot.starts_at <= now)


def evolve(state: Account, event: LedgerEvent) -> Account:
    """Fold one event into the account."""
    at = event.occurred_at
    fields: list[Any] = list(state)
    fields[_VERSION] = state.version + 1
    if state.as_of is None or at > state.as_of:
        fields[_AS_OF] = at
    for name, value in _FOLDS[type(event)](state, event).items():
        fields[_POSITION[name]] = value
    # ``tuple.__new__`` rather than ``_replace``: a third of the fold's own time (replay).
    return _new(Account, fields)


def replay(events: Iterable[LedgerEvent], state: Account | None = None) -> Account:
    """Fold a whole history, from an empty account or from a snapshot."""
    state = state or Account()
    for event in events:
        state = evolve(state, event)
    return state


def _taken(lots: Map[str, Lot], draws: Iterable[Draw]) -> Map[str, Lot]:
    """Credits drawn from their lots. A package's lot that is emptied closes: purchased
    credits never expire, so otherwise every package ever bought would stay in the state."""
    changed = lots.mutate()
    for draw in draws:
        lot = changed[draw.lot_id]
        remaining = lot.remaining - draw.credits
        if remaining == 0 and lot.kind == "purchased":
            del changed[draw.lot_id]
        else:
            changed[draw.lot_id] = _new(Lot, (*lot[:_REMAINING], remaining, *lot[_REMAINING + 1 :]))
    return changed.finish()


def _given_back(state: Account, draws: Iterable[Draw]) -> Map[str, Lot]:
    """Credits going back to their lots. An emptied package's lot opens again with what comes
    back (the rules never give back to a lot that ended or a package that was refunded), at
    the age its draw names (a draw recorded before draws named it: as the newest lot); its
    ``credits`` are at least what it holds."""
    changed = state.lots.mutate()
    for draw in draws:
        lot = changed.get(draw.lot_id)
        if lot is None:
            age = state.version if draw.lot_seq is None else draw.lot_seq
            lot = Lot(draw.lot_id, draw.kind, 0, 0, None, age)
        remaining = lot.remaining + draw.credits
        changed[draw.lot_id] = lot._replace(
            remaining=remaining, credits=max(lot.credits, remaining)
        )
    return changed.finish()


def _new_lot(
    state: Account,
    lot_id: str,
    kind: LotKind,
    credits: int,
    expires_at: datetime | None,
    starts_at: datetime | None = None,
) -> Map[str, Lot]:
    lot = Lot(lot_id, kind, credits, credits, expires_at, state.version, starts_at=starts_at)
    return state.lots.set(lot_id, lot)


def _cycle_started(state: Account, e: CycleStarted) -> Changes:
    return dict(
        opened=True,
        plan=e.plan,
        plan_credits=e.credits,
        billing_interval=e.billing_interval,
        cycle_start=e.cycle_start,
        cycle_end=e.cycle_end,
        subscription_lot_id=e.lot_id,
        pending_plan=None,
        lots=_new_lot(state, e.lot_id, "subscription", e.credits, e.cycle_end, e.cycle_start),
    )


def _credits_expired(state: Account, e: CreditsExpired) -> Changes:
    return {"lots": state.lots.delete(e.lot_id)}  # the lot has ended: it leaves the state


def _package_purchased(state: Account, e: PackagePurchased) -> Changes:
    changes: Changes = {
        "opened": True,
        "lots": _new_lot(state, e.lot_id, "purchased", e.credits, None),
    }
    if e.top_up is not None and e.top_up == state.top_up.in_flight:
        changes["top_up"] = state.top_up._replace(in_flight=None, failures=0)
    return changes


def _tool_used(state: Account, e: ToolUsed) -> Changes:
    return {"lots": _taken(state.lots, e.draws)}


def _credits_reserved(state: Account, e: CreditsReserved) -> Changes:
    hold = Hold(e.hold_id, e.tool, e.credits, e.draws, e.expires_at)
    return {"lots": _taken(state.lots, e.draws), "holds": state.holds.set(e.hold_id, hold)}


def _hold_closed(state: Account, e: HoldSettled | HoldReleased | HoldExpired) -> Changes:
    return {"lots": _given_back(state, e.returned), "holds": state.holds.delete(e.hold_id)}


def _usage_refunded(state: Account, e: UsageRefunded) -> Changes:
    return {"lots": _given_back(state, e.returned)}


def _credits_granted(state: Account, e: CreditsGranted) -> Changes:
    return {"opened": True, "lots": _new_lot(state, e.lot_id, "granted", e.credits, e.expires_at)}


def _package_refunded(state: Account, e: PackageRefunded | PurchaseReversed) -> Changes:
    if isinstance(e, PurchaseReversed) and e.refunded_cents is not None:
        return _partly_refunded(state, e)
    lots = state.lots.delete(e.lot_id) if e.lot_id in state.lots else state.lots
    return {"lots": lots, "refunded": state.refunded | {e.lot_id}}  # what remained is removed


def _partly_refunded(state: Account, e: PackagePartlyRefunded | PurchaseReversed) -> Changes:
    """The refunded share's credits leave the lot; an emptied package's lot closes."""
    lot = state.lots.get(e.lot_id)
    if lot is None or not e.credits_removed:
        return {}
    remaining = lot.remaining - e.credits_removed
    if remaining == 0:
        return {"lots": state.lots.delete(e.lot_id)}
    return {"lots": state.lots.set(e.lot_id, lot._replace(remaining=remaining))}


def _package_restored(state: Account, e: PackageRestored) -> Changes:
    if not e.credits:
        return {}  # a dispute won before its chargeback: nothing was removed
    lot = Lot(e.lot_id, "purchased", e.credits, e.credits, None, state.version)
    return {"lots": state.lots.set(e.lot_id, lot), "refunded": state.refunded - {e.lot_id}}


def _plan_upgraded(state: Account, e: PlanUpgraded) -> Changes:
    lot = state.lots[e.lot_id]
    topped_up = lot._replace(credits=lot.credits + e.credits, remaining=lot.remaining + e.credits)
    return dict(
        plan=e.to_plan,
        plan_credits=state.plan_credits + e.credits,
        pending_plan=None,
        lots=state.lots.set(e.lot_id, topped_up),
    )


def _downgrade_scheduled(state: Account, e: PlanDowngradeScheduled) -> Changes:
    return {"pending_plan": e.to_plan}


def _downgrade_cancelled(state: Account, e: PlanDowngradeCancelled) -> Changes:
    return {"pending_plan": None}


def _payment_method_saved(state: Account, e: PaymentMethodSaved) -> Changes:
    card = state.top_up._replace(card_last4=e.last4, card_ref=e.provider_ref, card_declined=False)
    return {"top_up": card}


def _auto_top_up_configured(state: Account, e: AutoTopUpConfigured) -> Changes:
    rule = state.top_up._replace(
        threshold_credits=e.threshold_credits,
        package=e.package,
        max_per_month=e.max_per_month,
        failures=0,
    )
    return {"top_up": rule}


def _auto_top_up_disabled(state: Account, e: AutoTopUpDisabled) -> Changes:
    declined = state.top_up.card_declined or e.reason == "card_declined"
    off = state.top_up._replace(
        threshold_credits=None, package=None, failures=0, card_declined=declined
    )
    return {"top_up": off}


def _top_up_requested(state: Account, e: TopUpRequested) -> Changes:
    top_up = state.top_up._replace(in_flight=e.request_id)
    if e.attempt == 1:
        month = month_of(e.occurred_at)
        counted = top_up.requested if top_up.month == month else 0
        top_up = top_up._replace(month=month, requested=counted + 1)
    return {"top_up": top_up}


def _top_up_failed(state: Account, e: TopUpFailed) -> Changes:
    if e.request_id != state.top_up.in_flight:
        return {}
    failed = state.top_up._replace(in_flight=None, failures=e.attempt, last_failure=e.reason)
    return {"top_up": failed}


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) a moment falls in, as ``2026-11``."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def _nothing(
    state: Account, e: CommandRefused | ExpiryChecked | PaymentReversed | PaymentParked
) -> Changes:
    return {}  # remembered by the store's index, not by the state


_FOLDS: dict[type[LedgerEvent], Callable[[Account, Any], Changes]] = {
    CycleStarted: _cycle_started,
    CreditsExpired: _credits_expired,
    PackagePurchased: _package_purchased,
    ToolUsed: _tool_used,
    CreditsReserved: _credits_reserved,
    HoldSettled: _hold_closed,
    HoldReleased: _hold_closed,
    HoldExpired: _hold_closed,
    UsageRefunded: _usage_refunded,
    CreditsGranted: _credits_granted,
    PackageRefunded: _package_refunded,
    PurchaseReversed: _package_refunded,
    PackagePartlyRefunded: _partly_refunded,
    PackageRestored: _package_restored,
    PaymentReversed: _nothing,
    PaymentParked: _nothing,
    PlanUpgraded: _plan_upgraded,
    PlanDowngradeScheduled: _downgrade_scheduled,
    PlanDowngradeCancelled: _downgrade_cancelled,
    ExpiryChecked: _nothing,
    PaymentMethodSaved: _payment_method_saved,
    AutoTopUpConfigured: _auto_top_up_configured,
    AutoTopUpDisabled: _auto_top_up_disabled,
    TopUpRequested: _top_up_requested,
    TopUpFailed: _top_up_failed,
    CommandRefused: _nothing,
}
