"""Balance alerts (``depleted``, ``low_balance``, ``subscription_expiring_soon``), fired once
per crossing and evaluated at the end of each command: pure, time is the event's (README,
Design: alerts, once per crossing). ``top_up_failed`` fires once per declined attempt of an
automatic top-up, with the provider's reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from events.balances import AlertKind, BalanceAlert
from events.outcomes import BalanceFigures
from projections.balance import BalanceView


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Where the lines are. A line of 0 (credits and percent both) turns low-balance off."""

    low_balance_credits: int = 50
    low_balance_percent: int = 10
    expiring_within: timedelta = timedelta(hours=72)

    def low_line(self, plan_credits: int) -> int:
        return max(self.low_balance_credits, self.low_balance_percent * plan_credits // 100)


@dataclass(frozen=True, slots=True)
class AlertState:
    """What has fired and is not yet re-armed."""

    low_balance: bool = False
    depleted: bool = False
    expiring_lot_id: str | None = None  # the subscription lot already warned about
    top_up_failures: int = 0  # declined top-up attempts already warned about


def evaluate(
    view: BalanceView, state: AlertState, rules: AlertRules
) -> tuple[AlertState, tuple[BalanceAlert, ...]]:
    """The alerts this view fires, given what has fired before, and the state after them."""
    account = view.account
    if not account.opened or view.updated_at is None:
        return state, ()  # nothing to warn about on an account that was never opened
    total = view.figures.total
    line = rules.low_line(account.plan_credits)
    fired: list[tuple[AlertKind, int | None, datetime | None, str | None]] = []
    low, depleted = state.low_balance, state.depleted
    if total == 0:
        if not depleted:
            fired.append(("depleted", None, None, None))
        low, depleted = True, True
    elif total <= line:
        if not low:
            fired.append(("low_balance", line, None, None))
        low, depleted = True, False
    else:
        low, depleted = False, False

    expiring = state.expiring_lot_id
    lot = account.lots.get(account.subscription_lot_id or "")
    if (
        lot is not None
        and lot.remaining
        and lot.expires_at is not None
        and view.updated_at < lot.expires_at <= view.updated_at + rules.expiring_within
        and expiring != lot.lot_id
    ):
        fired.append(("subscription_expiring_soon", None, lot.expires_at, None))
        expiring = lot.lot_id

    failures = account.top_up.failures
    if failures > state.top_up_failures:
        fired.append(("top_up_failed", None, None, account.top_up.last_failure))

    # Most events change nothing here: the state is kept, not copied.
    now = (low, depleted, expiring, failures)
    if now != (state.low_balance, state.depleted, state.expiring_lot_id, state.top_up_failures):
        state = AlertState(low, depleted, expiring, failures)
    return state, tuple([_alert(view, *what) for what in fired]) if fired else ()


def _alert(
    view: BalanceView,
    kind: AlertKind,
    line: int | None,
    expires_at: datetime | None,
    reason: str | None,
) -> BalanceAlert:
    figures = view.figures
    assert view.updated_at is not None
    return BalanceAlert(
        alert_id=f"{view.account_id}:{view.version}:{kind}",
        account_id=view.account_id,
        kind=kind,
        version=view.version,
        balance=BalanceFigures.of(figures),
        plan=view.account.plan,
        plan_credits=view.account.plan_credits,
        threshold_credits=line,
        expires_at=expires_at,
        reason=reason,
        occurred_at=view.updated_at,
    )


def dump(state: AlertState) -> dict[str, object]:
    return {
        "low_balance": state.low_balance,
        "depleted": state.depleted,
        "expiring_lot_id": state.expiring_lot_id,
        "top_up_failures": state.top_up_failures,
    }


def load(doc: dict[str, object]) -> AlertState:
    return AlertState(
        low_balance=bool(doc.get("low_balance", False)),
        depleted=bool(doc.get("depleted", False)),
        expiring_lot_id=None if doc.get("expiring_lot_id") is None else str(doc["expiring_lot_id"]),
        top_up_failures=int(str(doc.get("top_up_failures", 0))),
    )
