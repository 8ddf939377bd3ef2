"""HTTP bodies to ledger commands. Pure: the time and the idempotency key come in.

Bodies follow the wire's rules (``events.commands``): integers are JSON integers, times are
ISO 8601 text with a zone, text has no control characters, and (``json_bodies``) no key twice.
Each body is its command without the fields every command carries (``command_id``,
``account_id``, ``occurred_at``): those come from the path, the ``Idempotency-Key`` and the
clock (timezone-aware UTC now). The command id is derived from the account and the key: a retry
with the same key is the same command (the ledger answers it with the first outcome), and one
account's key can never name another account's command.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from events.commands import (
    BillingInterval,
    BuyPackage,
    ChangePlan,
    Command,
    ConfigureAutoTopUp,
    Credits,
    CycleRenewed,
    DisableAutoTopUp,
    ExpireHolds,
    GrantCredits,
    Identifier,
    Moment,
    Offer,
    Paid,
    RecordTopUpFailure,
    RefundPackage,
    RefundUsage,
    ReleaseHold,
    ReserveCredits,
    RestorePackage,
    SavePaymentMethod,
    SettleHold,
    Text,
    Units,
    UseTool,
)
from services.api.errors import ApiError, error
from services.ledger.core import Catalog


class Body(BaseModel):
    """A command's own fields, as an HTTP body."""

    model_config = ConfigDict(extra="forbid")
    command: ClassVar[type[Command]]

    def to_command(self, account_id: str, key: str, now: datetime) -> Command:
        """The command; a combination the command itself refuses is 422 ``invalid_request``."""
        try:
            return self.command(**_stamp(account_id, key, now), **self.model_dump())
        except ValidationError as invalid:
            raise error(
                422,
                "invalid_request",
                "the request is malformed; see errors",
                errors=invalid.errors(include_url=False, include_context=False),
            ) from invalid


class ToolUse(Body):
    """Use an AI tool ``units`` times; charged at the catalog's cost per use."""

    command = UseTool
    tool: Identifier
    units: Units = 1


class PackagePurchase(Body):
    """Billing adds a package it was paid for, by ``payment_ref`` (one package per payment):
    as quoted at checkout (``offer``) or at today's catalog price; a ``paid`` amount that is not
    that price is parked, not credited."""

    command = BuyPackage
    package: Identifier
    payment_ref: Identifier
    offer: Offer | None = None
    paid: Paid | None = None
    top_up: Identifier | None = None


class Renewal(Body):
    """Billing started a monthly credit cycle."""

    command = CycleRenewed
    plan: Identifier
    billing_interval: BillingInterval = "monthly"
    cycle_start: Moment
    cycle_end: Moment


class PackageRefund(Body):
    """A package's payment was refunded or charged back (``reason``); a partial refund says
    how much of the payment has been refunded so far, in all (``refunded_cents``)."""

    command = RefundPackage
    payment_ref: Identifier
    reason: Literal["refund", "chargeback"] = "refund"
    refunded_cents: int | None = Field(None, ge=1, le=100_000_000)


class PackageRestoration(Body):
    """The dispute over a charged-back payment was won: what the chargeback removed comes back."""

    command = RestorePackage
    payment_ref: Identifier


class PlanChange(Body):
    command = ChangePlan
    plan: Identifier


class Reservation(Body):
    """Set credits aside for long-running work: ``units`` of ``tool``, or ``credits``."""

    command = ReserveCredits
    hold_id: Identifier
    tool: Identifier
    units: Units | None = None
    credits: Credits | None = None
    expires_at: Moment


class Settlement(Body):
    command = SettleHold
    hold_id: Identifier
    credits: Annotated[int, Strict(), Field(ge=0, le=100_000_000)]


class Release(Body):
    command = ReleaseHold
    hold_id: Identifier


class HoldExpiry(Body):
    command = ExpireHolds


class UsageRefund(Body):
    """Give back exactly what a use (or settled hold) took: ``of_command_id`` is its command."""

    command = RefundUsage
    of_command_id: Identifier


class Grant(Body):
    command = GrantCredits
    credits: Credits
    expires_at: Moment | None = None
    reason: Text


class AutoTopUp(Body):
    """Buy ``package`` with the saved card whenever the spendable balance falls below
    ``threshold_credits``, at most ``max_per_month`` times a calendar month (UTC)."""

    command = ConfigureAutoTopUp
    threshold_credits: Credits
    package: Identifier
    max_per_month: Annotated[int, Strict(), Field(gt=0, le=100)]


class AutoTopUpOff(Body):
    command = DisableAutoTopUp


class SavedCard(Body):
    """Billing saved a card for off-session charges (the provider's setup checkout)."""

    command = SavePaymentMethod
    last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")]
    provider_ref: Identifier


class TopUpFailure(Body):
    """The off-session charge of top-up ``request_id`` failed, for the provider's ``reason``."""

    command = RecordTopUpFailure
    request_id: Identifier
    reason: Text


def command_id(account_id: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{account_id}\n{idempotency_key}".encode()).hexdigest()
    return f"http-{digest[:32]}"


def fingerprint(method: str, path: str, body: Body) -> str:
    """What one request was: a key reused with another method, path or body is refused. Taken
    over the parsed body, so a retry serialised with other whitespace or key order (or with a
    default spelled out) is the same request."""
    fields = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method}\n{path}\n{fields}".encode()).hexdigest()


def unknown_item(
    catalog: Catalog, *, tool: str | None = None, package: str | None = None
) -> ApiError | None:
    """A name the catalog does not know, refused here so a typo is not dead-lettered by the
    ledger. (The ledger still decides; its own refusal would read the same.)"""
    if tool is not None and tool not in catalog.tools:
        return error(422, "unknown_tool", f"no tool {tool!r}; see /catalog/tools")
    if package is not None and package not in catalog.packages:
        return error(422, "unknown_package", f"no package {package!r}; see /catalog/packages")
    return None


def _stamp(account_id: str, key: str, now: datetime) -> dict[str, Any]:
    return {"command_id": command_id(account_id, key), "account_id": account_id, "occurred_at": now}
