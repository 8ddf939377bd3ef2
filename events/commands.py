"""Commands: what AI workers, the billing system and the web page ask the ledger to do.

Each command carries a client-generated ``command_id`` (the idempotency key), the ``account_id``
it concerns (also the Kafka key) and ``occurred_at``, the only clock the decision core sees.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+=-]+$")]
Credits = Annotated[int, Field(gt=0, le=100_000_000)]
Units = Annotated[int, Field(gt=0, le=10_000)]
BillingInterval = Literal["monthly", "yearly"]


class Command(BaseModel):
    """Fields every command carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: Identifier
    account_id: Identifier
    occurred_at: AwareDatetime


class UseTool(Command):
    """Charge the account for ``units`` uses of an AI tool, at the catalog's unit cost."""

    type: Literal["UseTool"] = "UseTool"
    tool: Identifier
    units: Units = 1


class BuyPackage(Command):
    """Add a purchased credit package, paid by ``payment_ref``; purchased credits never expire."""

    type: Literal["BuyPackage"] = "BuyPackage"
    package: Identifier
    payment_ref: Identifier


class CycleRenewed(Command):
    """Billing started a monthly credit cycle: unused subscription credits expire and a new
    allowance is granted until ``cycle_end``. Billing emits it as a fact; here it is a command."""

    type: Literal["CycleRenewed"] = "CycleRenewed"
    plan: Identifier
    billing_interval: BillingInterval = "monthly"
    cycle_start: AwareDatetime
    cycle_end: AwareDatetime

    @model_validator(mode="after")
    def _cycle_ends_after_it_starts(self) -> CycleRenewed:
        if self.cycle_end <= self.cycle_start:
            raise ValueError("cycle_end must be after cycle_start")
        return self


class ReserveCredits(Command):
    """Set credits aside for long-running AI work, priced by tool and units or given as credits."""

    type: Literal["ReserveCredits"] = "ReserveCredits"
    hold_id: Identifier
    tool: Identifier
    units: Units | None = None
    credits: Credits | None = None
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _units_or_credits(self) -> ReserveCredits:
        if (self.units is None) == (self.credits is None):
            raise ValueError("give exactly one of units or credits")
        return self


class SettleHold(Command):
    """Charge ``credits`` (at most what was reserved) from a hold and release the rest."""

    type: Literal["SettleHold"] = "SettleHold"
    hold_id: Identifier
    credits: Annotated[int, Field(ge=0, le=100_000_000)]


class ReleaseHold(Command):
    """Give back everything a hold set aside."""

    type: Literal["ReleaseHold"] = "ReleaseHold"
    hold_id: Identifier


class ExpireHolds(Command):
    """Sent by a scheduler: release every hold whose ``expires_at`` has passed."""

    type: Literal["ExpireHolds"] = "ExpireHolds"


class RefundUsage(Command):
    """Return exactly what an earlier use (``UseTool`` or ``SettleHold``) took."""

    type: Literal["RefundUsage"] = "RefundUsage"
    of_command_id: Identifier


class GrantCredits(Command):
    """Support or promotional credits, as a lot that expires at ``expires_at`` (or never)."""

    type: Literal["GrantCredits"] = "GrantCredits"
    credits: Credits
    expires_at: AwareDatetime | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class RefundPackage(Command):
    """A package's payment was refunded or charged back: remove what remains of its lot."""

    type: Literal["RefundPackage"] = "RefundPackage"
    payment_ref: Identifier


class ChangePlan(Command):
    """Move to another plan mid-cycle: upgrades act at once, downgrades at the next renewal."""

    type: Literal["ChangePlan"] = "ChangePlan"
    plan: Identifier


AnyCommand = Annotated[
    UseTool
    | BuyPackage
    | CycleRenewed
    | ReserveCredits
    | SettleHold
    | ReleaseHold
    | ExpireHolds
    | RefundUsage
    | GrantCredits
    | RefundPackage
    | ChangePlan,
    Field(discriminator="type"),
]
COMMANDS: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)
