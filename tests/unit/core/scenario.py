"""Given/when/then for the decision core: commands build the history, events are asserted.

Times are days after ``T0``; command ids are generated unless a test names one.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from events.commands import (
    BuyPackage,
    ChangePlan,
    Command,
    ConfigureAutoTopUp,
    CycleRenewed,
    DisableAutoTopUp,
    ExpireHolds,
    GrantCredits,
    RecordTopUpFailure,
    RefundPackage,
    RefundUsage,
    ReleaseHold,
    ReserveCredits,
    RestorePackage,
    SavePaymentMethod,
    SettleHold,
    UseTool,
)
from events.ledger import CommandRefused, CreditsExpired, HoldExpired, LedgerEvent
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, Decision, balance, handle
from services.ledger.core.past import Remembered

CATALOG = load_catalog()
T0 = datetime(2026, 11, 1, tzinfo=UTC)
ACCOUNT = "acct-1"
_ids = itertools.count(1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _base(at: float, command_id: str | None) -> dict[str, Any]:
    return {
        "command_id": command_id or f"cmd-{next(_ids)}",
        "account_id": ACCOUNT,
        "occurred_at": day(at),
    }


def renewed(
    plan: str = "solo",
    start: float = 0,
    *,
    at: float | None = None,
    interval: str = "monthly",
    command_id: str | None = None,
) -> CycleRenewed:
    return CycleRenewed(
        **_base(start if at is None else at, command_id),
        plan=plan,
        billing_interval=interval,
        cycle_start=day(start),
        cycle_end=day(start + 30),
    )


def bought(
    package: str = "small",
    *,
    at: float = 0,
    payment_ref: str | None = None,
    command_id: str | None = None,
) -> BuyPackage:
    base = _base(at, command_id)
    return BuyPackage(
        **base, package=package, payment_ref=payment_ref or f"pay-{base['command_id']}"
    )


def used(
    tool: str = "article_generation",
    units: int = 1,
    *,
    at: float = 1,
    command_id: str | None = None,
) -> UseTool:
    return UseTool(**_base(at, command_id), tool=tool, units=units)


def reserved(
    hold_id: str = "hold-1",
    *,
    tool: str = "article_generation",
    units: int | None = 1,
    credits: int | None = None,
    at: float = 1,
    expires: float = 2,
    command_id: str | None = None,
) -> ReserveCredits:
    return ReserveCredits(
        **_base(at, command_id),
        hold_id=hold_id,
        tool=tool,
        units=None if credits is not None else units,
        credits=credits,
        expires_at=day(expires),
    )


def settled(
    hold_id: str = "hold-1", credits: int = 0, *, at: float = 1.5, command_id: str | None = None
) -> SettleHold:
    return SettleHold(**_base(at, command_id), hold_id=hold_id, credits=credits)


def released(hold_id: str = "hold-1", *, at: float = 1.5) -> ReleaseHold:
    return ReleaseHold(**_base(at, None), hold_id=hold_id)


def holds_expired(*, at: float) -> ExpireHolds:
    return ExpireHolds(**_base(at, None))


def refunded_use(
    of_command_id: str, *, at: float = 2, command_id: str | None = None
) -> RefundUsage:
    return RefundUsage(**_base(at, command_id), of_command_id=of_command_id)


def granted(
    credits: int, *, expires: float | None = None, at: float = 0, reason: str = "support goodwill"
) -> GrantCredits:
    return GrantCredits(
        **_base(at, None),
        credits=credits,
        reason=reason,
        expires_at=None if expires is None else day(expires),
    )


def refunded_package(payment_ref: str, *, at: float = 2, reason: str = "refund") -> RefundPackage:
    return RefundPackage(**_base(at, None), payment_ref=payment_ref, reason=reason)


def partly_refunded(
    payment_ref: str, refunded_cents: int, *, at: float = 2, command_id: str | None = None
) -> RefundPackage:
    """A partial refund, as a provider reports it: the amount refunded so far, in all."""
    base = _base(at, command_id)
    return RefundPackage(**base, payment_ref=payment_ref, refunded_cents=refunded_cents)


def charged_back(payment_ref: str, *, at: float = 2) -> RefundPackage:
    return refunded_package(payment_ref, at=at, reason="chargeback")


def dispute_won(payment_ref: str, *, at: float = 3) -> RestorePackage:
    return RestorePackage(**_base(at, None), payment_ref=payment_ref)


def changed_plan(plan: str, *, at: float = 1) -> ChangePlan:
    return ChangePlan(**_base(at, None), plan=plan)


def card_saved(
    last4: str = "4242", *, ref: str = "pm_card_visa", at: float = 0
) -> SavePaymentMethod:
    return SavePaymentMethod(**_base(at, None), last4=last4, provider_ref=ref)


def auto_top_up(
    threshold: int = 500,
    package: str = "small",
    *,
    max_per_month: int = 3,
    at: float = 0,
    command_id: str | None = None,
) -> ConfigureAutoTopUp:
    return ConfigureAutoTopUp(
        **_base(at, command_id),
        threshold_credits=threshold,
        package=package,
        max_per_month=max_per_month,
    )


def auto_top_up_off(*, at: float = 1) -> DisableAutoTopUp:
    return DisableAutoTopUp(**_base(at, None))


def top_up_failed(
    request_id: str, reason: str = "card_declined", *, at: float = 1, command_id: str | None = None
) -> RecordTopUpFailure:
    return RecordTopUpFailure(**_base(at, command_id), request_id=request_id, reason=reason)


def top_up_paid(request_id: str, package: str = "small", *, at: float = 1) -> BuyPackage:
    """The webhook's purchase of the package a top-up request charged for."""
    base = _base(at, None)
    return BuyPackage(**base, package=package, payment_ref=f"pi-{request_id}", top_up=request_id)


def given(*commands: Command, on: Account | None = None) -> Account:
    """The account after these commands (on top of ``on``), each of which must be accepted."""
    state = on or Account()
    for command in commands:
        decision = when(state, command)
        assert not decision.refused, decision.outcome
        state = decision.state
    return state


def when(state: Account, command: Command) -> Decision:
    """The decision on ``state``, with the account's past as the store's index would hold it."""
    past = past_of(state)
    decision = handle(command, state, CATALOG, past)
    after = Remembered()
    after.index = dict(past.index)
    after.remember(decision.events)
    _pasts[id(decision.state)] = (decision.state, after)
    return decision


def past_of(state: Account) -> Remembered:
    """The index of the events that led to ``state`` (given and when keep it beside each
    state they return; the state itself carries only what is open)."""
    kept = _pasts.get(id(state))
    return kept[1] if kept is not None and kept[0] is state else Remembered()


_pasts: dict[int, tuple[Account, Remembered]] = {}


def then_refused(decision: Decision, code: str) -> CommandRefused:
    """The command was refused with ``code``; nothing but time's own expiries came before it."""
    assert isinstance(decision.outcome, CommandRefused), decision.outcome
    assert decision.outcome.code == code, decision.outcome
    assert decision.events[-1] == decision.outcome
    assert all(isinstance(e, CreditsExpired | HoldExpired) for e in decision.events[:-1])
    return decision.outcome


def spendable(state: Account) -> tuple[int, int, int]:
    """(subscription, purchased, granted) credits as the sidebar shows them."""
    figures = balance(state)
    return figures.subscription, figures.purchased, figures.granted


def event_types(events: tuple[LedgerEvent, ...]) -> list[str]:
    return [type(event).__name__ for event in events]
