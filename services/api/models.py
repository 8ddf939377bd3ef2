"""The API's answers about an account, as the OpenAPI document describes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from events.commands import BillingInterval
from events.ledger import LotKind
from events.outcomes import BalanceFigures
from services.audit.history import Row  # one history row, the same for the CLI and the API


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
