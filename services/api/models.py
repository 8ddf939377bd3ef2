"""The API's answers about an account, as the OpenAPI document describes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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
    recent: list[Row]
