"""Read-model messages: the balance per account and the alerts about it.

``BalanceUpdated`` goes to the compacted balances topic, key = ``account_id``: the latest record
per key is the account's current balance. Delivery is at-least-once and ``version`` is the
account's stream version, so a consumer keeps an update only if it is newer than what it has
(``supersedes``) and drops stale or repeated ones. ``BalanceAlert`` goes to the alerts topic,
key = ``account_id``; ``alert_id`` is the same every time one crossing is published, so a
consumer deduplicates by it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from events.commands import BillingInterval
from events.encoding import json_of
from events.outcomes import BalanceFigures

AlertKind = Literal["low_balance", "depleted", "subscription_expiring_soon", "top_up_failed"]


class BalanceUpdated(BaseModel):
    """An account's balance as of its stream ``version``."""

    model_config = ConfigDict(frozen=True)

    type: Literal["BalanceUpdated"] = "BalanceUpdated"
    account_id: str
    version: int
    subscription: int
    purchased: int
    granted: int
    held: int
    total: int
    plan: str | None
    plan_credits: int
    billing_interval: BillingInterval | None
    pending_plan: str | None
    cycle_end: AwareDatetime | None
    subscription_expires_at: AwareDatetime | None
    updated_at: AwareDatetime

    def supersedes(self, other: BalanceUpdated | None) -> bool:
        """Whether this update replaces ``other`` (an older version of the same account)."""
        return other is None or self.version > other.version

    @property
    def figures(self) -> BalanceFigures:
        return BalanceFigures.of(self)


class BalanceAlert(BaseModel):
    """The balance crossed a line: low, depleted, or subscription credits about to expire.

    ``threshold_credits`` is the low-balance line that was crossed (``low_balance`` only);
    ``expires_at`` is when the subscription credits expire (``subscription_expiring_soon``).
    """

    model_config = ConfigDict(frozen=True)

    type: Literal["BalanceAlert"] = "BalanceAlert"
    alert_id: str
    account_id: str
    kind: AlertKind
    version: int
    balance: BalanceFigures
    plan: str | None
    plan_credits: int
    threshold_credits: int | None = None
    expires_at: AwareDatetime | None = None
    reason: str | None = None
    """Why an automatic top-up's charge failed, in the provider's words (``top_up_failed``)."""
    occurred_at: AwareDatetime


def encoded(message: BalanceUpdated | BalanceAlert) -> bytes:
    """The message as the topics carry it: ``model_dump_json``'s bytes. A balance update's
    fields are all flat (numbers, text, times), so msgspec writes them from the model's
    own values in C (``events.encoding``), the same JSON at a third of the cost; an alert is
    written by pydantic."""
    if isinstance(message, BalanceUpdated):
        return json_of(message)
    return message.model_dump_json().encode()
