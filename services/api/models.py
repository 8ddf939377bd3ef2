"""The API's answers about an account, as the OpenAPI document describes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from events.commands import BillingInterval
from events.ledger import LotKind
from events.outcomes import BalanceFigures
from projections.history import Row  # one history row, the same for the CLI and the API


class HistoryPage(BaseModel):
    """Newest first: ``offset`` 0 is the latest event; ``total`` counts every event."""

    account_id: str
    total: int
    offset: int
    limit: int
    entries: list[Row]


class Plan(BaseModel):
    plan: str
    name: str
    credits_per_cycle: int
    billing_interval: BillingInterval | None
    pending_plan: str | None


class LotOut(BaseModel):
    lot_id: str
    kind: LotKind
    credits: int
    remaining: int
    expires_at: datetime | None


class HoldOut(BaseModel):
    hold_id: str
    tool: str
    credits: int
    expires_at: datetime


class AutoTopUpOut(BaseModel):
    """Automatic top-ups: the rule (``on``), the saved card, and where this month stands."""

    on: bool
    threshold_credits: int | None
    package: str | None
    max_per_month: int | None
    card_last4: str | None
    card_declined: bool
    """Every attempt was declined: top-ups stay off until a new card is saved."""
    in_flight: bool
    """A top-up is being charged; its package arrives with the provider's confirmation."""
    failed_attempts: int
    top_ups_this_month: int
    month: str | None


class AccountDetails(BaseModel):
    """The details behind the sidebar's figure. ``lots`` are in drawdown order (the next to
    pay first); ``recent`` is the latest history, up to the version of ``balance``."""

    account_id: str
    version: int
    updated_at: datetime | None
    balance: BalanceFigures
    plan: Plan | None
    renewal_date: datetime | None
    subscription_expires_at: datetime | None
    lots: list[LotOut]
    holds: list[HoldOut]
    auto_top_up: AutoTopUpOut
    recent: list[Row]
    forecast: Forecast | None = None
    """At the recent pace, when the credits run out (None for an account without a plan)."""


class Forecast(BaseModel):
    """At the pace of the last ``window_days`` days (today included): when subscription
    credits (used first) and all credits run out, None if not before the renewal (for
    subscription credits) or if nothing was used."""

    window_days: int
    used_credits: int
    credits_per_day: float
    subscription_runs_out_on: date | None
    all_credits_run_out_on: date | None
    renews_on: date | None
    summary: str
    """The forecast in sentences, as the page says it: "At this pace your subscription credits
    run out on Dec 21; your plan renews Jan 1. …"."""


class ToolUsage(BaseModel):
    """A tool's uses (units; a settled hold counts one) and credits over the range."""

    tool: str
    name: str
    """The catalog's name of the tool, as people read it."""
    uses: int
    credits: int


class DayUsage(BaseModel):
    day: date
    credits: int
    tools: dict[str, int]
    """Credits by tool on that day."""


class UsageReport(BaseModel):
    """Credits used from ``first`` to ``last`` (days, UTC, both included), as charged (a
    later refund of a use is not subtracted): by tool, or by day with every day listed."""

    account_id: str
    first: date
    last: date
    by: Literal["tool", "day"]
    tools: list[ToolUsage]
    days: list[DayUsage]


class CreditFlows(BaseModel):
    granted: int
    used: int
    expired: int


class FinanceLine(BaseModel):
    """Purchased credits and their value in integer cents: ``opening + bought - consumed -
    refunded - forfeited = closing``. Subscription credits by plan and granted credits."""

    account_id: str
    opening: int
    opening_cents: int
    bought: int
    bought_cents: int
    consumed: int
    consumed_cents: int
    refunded: int
    refunded_cents: int
    forfeited: int
    forfeited_cents: int
    closing: int
    closing_cents: int
    subscription: dict[str, CreditFlows]
    granted: CreditFlows


class FinanceReport(BaseModel):
    """Months ``from`` to ``to`` (YYYY-MM, UTC, both included), per account and in total
    (account ``*``)."""

    model_config = {"populate_by_name": True}

    first: str = Field(alias="from")
    last: str = Field(alias="to")
    accounts: list[FinanceLine]
    total: FinanceLine


AccountDetails.model_rebuild()
