"""An account's state and ``evolve``, the fold of ledger events into it.

``evolve`` holds no rule and never raises: it only writes down what an event says happened.
State is immutable; the growing maps are persistent (``immutables.Map``), so folding an event
costs O(log n) however long the account's history is, and one ``_replace`` per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from immutables import Map

from events.commands import BillingInterval
from events.ledger import (
    CommandRefused,
    CreditsExpired,
    CreditsGranted,
    CreditsReserved,
    CycleStarted,
    DecisionEvent,
    Draw,
    ExpiryChecked,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    LotKind,
    PackagePurchased,
    PackageRefunded,
    PlanDowngradeCancelled,
    PlanDowngradeScheduled,
    PlanUpgraded,
    ToolUsed,
    UsageRefunded,
)

LotStatus = Literal["open", "expired", "removed"]
Changes = dict[str, Any]
_EMPTY: Map[Any, Any] = Map()
HoldStatus = Literal["open", "settled", "released", "expired"]


class Lot(NamedTuple):
    """Credits of one origin (a cycle's allowance, a package, a grant) and what is left of them.

    Spendable from ``starts_at`` (None: from the start) until ``expires_at`` (None: never); a
    cycle's lot also ends when the next cycle starts (``lots.ends_at``)."""

    lot_id: str
    kind: LotKind
    credits: int
    remaining: int
    expires_at: datetime | None
    seq: int
    status: LotStatus = "open"
    starts_at: datetime | None = None


class Hold(NamedTuple):
    """Credits set aside for long-running work, and the lots they came from."""

    hold_id: str
    tool: str
    credits: int
    draws: tuple[Draw, ...]
    expires_at: datetime
    status: HoldStatus = "open"


class Account(NamedTuple):
    """Everything the rules need to know about one account, folded from its events.

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
    lots: Map[str, Lot] = _EMPTY
    holds: Map[str, Hold] = _EMPTY
    decided: Map[str, DecisionEvent] = _EMPTY
    refunds: Map[str, str] = _EMPTY
    payments: Map[str, str] = _EMPTY
    version: int = 0
    as_of: datetime | None = None  # the latest event's time: an account's time never goes back


@dataclass(frozen=True, slots=True)
class Balance:
    """Spendable credits by kind, and what open holds have set aside."""

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
    by_kind = {"subscription": 0, "purchased": 0, "granted": 0}
    for lot in state.lots.values():
        if lot.status == "open" and started(lot, state.as_of):
            by_kind[lot.kind] += lot.remaining
    held = sum(hold.credits for hold in state.holds.values() if hold.status == "open")
    return Balance(by_kind["subscription"], by_kind["purchased"], by_kind["granted"], held)


def started(lot: Lot, now: datetime | None) -> bool:
    """Whether the lot's credits have become spendable by ``now``."""
    return lot.starts_at is None or (now is not None and lot.starts_at <= now)


def evolve(state: Account, event: LedgerEvent) -> Account:
    """Fold one event into the account."""
    at = event.occurred_at
    as_of = at if state.as_of is None or at > state.as_of else state.as_of
    return state._replace(
        version=state.version + 1, as_of=as_of, **_FOLDS[type(event)](state, event)
    )


def replay(events: Iterable[LedgerEvent], state: Account | None = None) -> Account:
    """Fold a whole history, from an empty account or from a snapshot."""
    state = state or Account()
    for event in events:
        state = evolve(state, event)
    return state


def _moved(lots: Map[str, Lot], draws: Iterable[Draw], sign: int) -> Map[str, Lot]:
    changed = lots.mutate()
    for draw in draws:
        lot = changed[draw.lot_id]
        changed[draw.lot_id] = lot._replace(remaining=lot.remaining + sign * draw.credits)
    return changed.finish()


def _new_lot(
    state: Account,
    lot_id: str,
    kind: LotKind,
    credits: int,
    expires_at: datetime | None,
    starts_at: datetime | None = None,
) -> Map[str, Lot]:
    # ``seq`` orders lots by when they were opened: the stream version, which stays right when
    # closed lots are dropped from a state (the read model's lean accounts).
    lot = Lot(lot_id, kind, credits, credits, expires_at, state.version, starts_at=starts_at)
    return state.lots.set(lot_id, lot)


def _decided(state: Account, event: DecisionEvent, **changes: Any) -> Changes:
    return {"decided": state.decided.set(event.command_id, event), **changes}


def _cycle_started(state: Account, e: CycleStarted) -> Changes:
    return _decided(
        state,
        e,
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
    lot = state.lots[e.lot_id]
    expired = lot._replace(remaining=lot.remaining - e.credits, status="expired")
    return {"lots": state.lots.set(e.lot_id, expired)}


def _package_purchased(state: Account, e: PackagePurchased) -> Changes:
    return _decided(
        state,
        e,
        opened=True,
        payments=state.payments.set(e.payment_ref, e.lot_id),
        lots=_new_lot(state, e.lot_id, "purchased", e.credits, None),
    )


def _tool_used(state: Account, e: ToolUsed) -> Changes:
    return _decided(state, e, lots=_moved(state.lots, e.draws, -1))


def _credits_reserved(state: Account, e: CreditsReserved) -> Changes:
    hold = Hold(e.hold_id, e.tool, e.credits, e.draws, e.expires_at)
    return _decided(
        state, e, lots=_moved(state.lots, e.draws, -1), holds=state.holds.set(e.hold_id, hold)
    )


def _hold_closed(
    state: Account, e: HoldSettled | HoldReleased | HoldExpired, status: HoldStatus
) -> Changes:
    hold = state.holds[e.hold_id]._replace(status=status)
    return {
        "lots": _moved(state.lots, e.returned, +1),
        "holds": state.holds.set(e.hold_id, hold),
    }


def _hold_settled(state: Account, e: HoldSettled) -> Changes:
    return _decided(state, e, **_hold_closed(state, e, "settled"))


def _hold_released(state: Account, e: HoldReleased) -> Changes:
    return _decided(state, e, **_hold_closed(state, e, "released"))


def _hold_expired(state: Account, e: HoldExpired) -> Changes:
    return _hold_closed(state, e, "expired")  # time's doing, not a command's decision


def _usage_refunded(state: Account, e: UsageRefunded) -> Changes:
    return _decided(
        state,
        e,
        lots=_moved(state.lots, e.returned, +1),
        refunds=state.refunds.set(e.of_command_id, e.command_id),
    )


def _credits_granted(state: Account, e: CreditsGranted) -> Changes:
    return _decided(
        state, e, opened=True, lots=_new_lot(state, e.lot_id, "granted", e.credits, e.expires_at)
    )


def _package_refunded(state: Account, e: PackageRefunded) -> Changes:
    lot = state.lots[e.lot_id]
    removed = lot._replace(remaining=lot.remaining - e.credits_removed, status="removed")
    return _decided(state, e, lots=state.lots.set(e.lot_id, removed))


def _plan_upgraded(state: Account, e: PlanUpgraded) -> Changes:
    lot = state.lots[e.lot_id]
    topped_up = lot._replace(credits=lot.credits + e.credits, remaining=lot.remaining + e.credits)
    return _decided(
        state,
        e,
        plan=e.to_plan,
        plan_credits=state.plan_credits + e.credits,
        pending_plan=None,
        lots=state.lots.set(e.lot_id, topped_up),
    )


def _downgrade_scheduled(state: Account, e: PlanDowngradeScheduled) -> Changes:
    return _decided(state, e, pending_plan=e.to_plan)


def _downgrade_cancelled(state: Account, e: PlanDowngradeCancelled) -> Changes:
    return _decided(state, e, pending_plan=None)


def _only_decided(state: Account, e: CommandRefused | ExpiryChecked) -> Changes:
    return _decided(state, e)


_FOLDS: dict[type[LedgerEvent], Callable[[Account, Any], Changes]] = {
    CycleStarted: _cycle_started,
    CreditsExpired: _credits_expired,
    PackagePurchased: _package_purchased,
    ToolUsed: _tool_used,
    CreditsReserved: _credits_reserved,
    HoldSettled: _hold_settled,
    HoldReleased: _hold_released,
    HoldExpired: _hold_expired,
    UsageRefunded: _usage_refunded,
    CreditsGranted: _credits_granted,
    PackageRefunded: _package_refunded,
    PlanUpgraded: _plan_upgraded,
    PlanDowngradeScheduled: _downgrade_scheduled,
    PlanDowngradeCancelled: _downgrade_cancelled,
    ExpiryChecked: _only_decided,
    CommandRefused: _only_decided,
}
