"""Commands: what AI workers, the billing system and the web page ask the ledger to do.

Each command carries a client-generated ``command_id`` (the idempotency key), the ``account_id``
it concerns (also the Kafka key) and ``occurred_at``, the only clock the decision core sees.

The wire is strict, so that what a producer meant is never guessed: integers are JSON integers
(not ``true``, ``"7"`` or ``1e3``), times are ISO 8601 text with an offset between 2000 and 2200
(not epoch numbers), a cycle lasts at most 31 days, free text has no control characters, and a
JSON object may not name a key twice (``parse_command``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MIN_CYCLE = timedelta(days=1)
MAX_CYCLE = timedelta(days=31)
_NO_OFFSET = timedelta(0)
_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:\d{2})")
# Bidirectional embeddings, overrides and isolates: they make text read other than it is.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _iso_8601_text(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_8601.fullmatch(value):
        raise ValueError("a time must be ISO 8601 text with a timezone, e.g. 2026-11-01T00:00:00Z")
    if not isinstance(value, str | datetime):
        raise ValueError("a time must be ISO 8601 text with a timezone, not a number")
    return value


def _within_bounds(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError("a time must be from 2000-01-01 to before 2200-01-01 (UTC)")
    return one_utc(moment)


def one_utc(moment: datetime) -> datetime:
    """``moment`` with ``datetime.UTC`` as its timezone if it is at UTC. Two aware times whose
    timezone objects differ are compared by asking each for its offset, several times slower
    than two that share one; pydantic reads UTC as its own ``TzInfo``, the standard library as
    ``datetime.UTC``, and the rules compare times in their hot loops. Written the same."""
    if moment.tzinfo is UTC or moment.utcoffset() != _NO_OFFSET:
        return moment
    return moment.replace(tzinfo=UTC)


def _plain_text(text: str) -> str:
    for char in text:
        if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"control character U+{ord(char):04X} is not allowed in text")
    return text


Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/+=-]+$")]
Credits = Annotated[int, Strict(), Field(gt=0, le=100_000_000)]
Units = Annotated[int, Strict(), Field(gt=0, le=10_000)]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_8601_text), AfterValidator(_within_bounds)]
Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_plain_text)]
BillingInterval = Literal["monthly", "yearly"]


class Command(BaseModel):
    """Fields every command carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: Identifier
    account_id: Identifier
    occurred_at: Moment


class UseTool(Command):
    """Charge the account for ``units`` uses of an AI tool, at the catalog's unit cost."""

    type: Literal["UseTool"] = "UseTool"
    tool: Identifier
    units: Units = 1


class Offer(BaseModel):
    """A package as it was sold at checkout: its credits for its price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credits: Credits
    price_cents: Annotated[int, Strict(), Field(ge=0, le=100_000_000)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Paid(BaseModel):
    """What the payment provider says was paid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount_cents: Annotated[int, Strict(), Field(ge=0, le=100_000_000)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class BuyPackage(Command):
    """Add a purchased credit package, paid by ``payment_ref``; purchased credits never expire.

    ``offer`` is the package as quoted when the checkout was opened (the catalog's today when
    absent); ``paid``, when given, is what the provider took: a payment that is not the
    offer's price is parked, paid but not credited."""

    type: Literal["BuyPackage"] = "BuyPackage"
    package: Identifier
    payment_ref: Identifier
    offer: Offer | None = None
    paid: Paid | None = None
    top_up: Identifier | None = None
    """The automatic top-up (its ``TopUpRequested.request_id``) this payment was charged for."""


class CycleRenewed(Command):
    """Billing started a monthly credit cycle: unused subscription credits expire and a new
    allowance is granted until ``cycle_end``. Billing emits it as a fact; here it is a command."""

    type: Literal["CycleRenewed"] = "CycleRenewed"
    plan: Identifier
    billing_interval: BillingInterval = "monthly"
    cycle_start: Moment
    cycle_end: Moment

    @model_validator(mode="after")
    def _cycle_is_a_month_at_most(self) -> CycleRenewed:
        if self.cycle_end <= self.cycle_start:
            raise ValueError("cycle_end must be after cycle_start")
        if not MIN_CYCLE <= self.cycle_end - self.cycle_start <= MAX_CYCLE:
            raise ValueError(
                "a credit cycle lasts from 1 to 31 days (yearly billing sends monthly cycles)"
            )
        return self


class ReserveCredits(Command):
    """Set credits aside for long-running AI work, priced by tool and units or given as credits."""

    type: Literal["ReserveCredits"] = "ReserveCredits"
    hold_id: Identifier
    tool: Identifier
    units: Units | None = None
    credits: Credits | None = None
    expires_at: Moment

    @model_validator(mode="after")
    def _units_or_credits(self) -> ReserveCredits:
        if (self.units is None) == (self.credits is None):
            raise ValueError("give exactly one of units or credits")
        return self


class SettleHold(Command):
    """Charge ``credits`` (at most what was reserved) from a hold and release the rest."""

    type: Literal["SettleHold"] = "SettleHold"
    hold_id: Identifier
    credits: Annotated[int, Strict(), Field(ge=0, le=100_000_000)]


class ReleaseHold(Command):
    """Give back everything a hold set aside."""

    type: Literal["ReleaseHold"] = "ReleaseHold"
    hold_id: Identifier


class ExpireHolds(Command):
    """Sent by a scheduler (the clock): record every expiry due by ``occurred_at`` (cycles'
    unused credits, grants, holds past ``expires_at``). Decided once, like any command."""

    type: Literal["ExpireHolds"] = "ExpireHolds"


class RefundUsage(Command):
    """Return exactly what an earlier use (``UseTool`` or ``SettleHold``) took."""

    type: Literal["RefundUsage"] = "RefundUsage"
    of_command_id: Identifier


class GrantCredits(Command):
    """Support or promotional credits, as a lot that expires at ``expires_at`` (or never)."""

    type: Literal["GrantCredits"] = "GrantCredits"
    credits: Credits
    expires_at: Moment | None = None
    reason: Text


class RefundPackage(Command):
    """A package's payment was refunded or charged back (``reason``): remove what remains of
    its lot, or, if the purchase has not been recorded yet, what it will add. A partial refund
    names how much of the payment has been refunded so far, in all (``refunded_cents``): only
    the credits that share paid for are removed, and a later, larger partial refund removes
    only the difference. A chargeback is always whole."""

    type: Literal["RefundPackage"] = "RefundPackage"
    payment_ref: Identifier
    reason: Literal["refund", "chargeback"] = "refund"
    refunded_cents: int | None = Field(None, ge=1, le=100_000_000)


class RestorePackage(Command):
    """The dispute over a charged-back payment was won: give back what the chargeback removed."""

    type: Literal["RestorePackage"] = "RestorePackage"
    payment_ref: Identifier


class ChangePlan(Command):
    """Move to another plan mid-cycle: upgrades act at once, downgrades at the next renewal."""

    type: Literal["ChangePlan"] = "ChangePlan"
    plan: Identifier


class SavePaymentMethod(Command):
    """Billing saved a card for off-session charges (the provider's setup checkout, as its
    webhook reports it): automatic top-ups charge it. A new card replaces the old one."""

    type: Literal["SavePaymentMethod"] = "SavePaymentMethod"
    last4: Annotated[str, Field(pattern=r"^[0-9]{4}$")]
    provider_ref: Identifier


class ConfigureAutoTopUp(Command):
    """Buy ``package`` automatically, with the saved card, whenever a decision leaves the
    spendable balance below ``threshold_credits``; at most ``max_per_month`` times in a
    calendar month (UTC)."""

    type: Literal["ConfigureAutoTopUp"] = "ConfigureAutoTopUp"
    threshold_credits: Credits
    package: Identifier
    max_per_month: Annotated[int, Strict(), Field(gt=0, le=100)]


class DisableAutoTopUp(Command):
    """Turn automatic top-ups off; a top-up already being charged still arrives."""

    type: Literal["DisableAutoTopUp"] = "DisableAutoTopUp"


class RecordTopUpFailure(Command):
    """The off-session charge of top-up ``request_id`` did not go through (the provider's
    ``reason``, a declined card say): sent by the top-up process and by the payment webhook,
    under one command id per request, so both are decided once."""

    type: Literal["RecordTopUpFailure"] = "RecordTopUpFailure"
    request_id: Identifier
    reason: Text


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
    | RestorePackage
    | ChangePlan
    | SavePaymentMethod
    | ConfigureAutoTopUp
    | DisableAutoTopUp
    | RecordTopUpFailure,
    Field(discriminator="type"),
]
COMMANDS: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


def parse_command(data: bytes | str) -> Command:
    """The command in a JSON document, by the strict wire rules; ``ValidationError`` if not.

    JSON parsers keep the last of two equal keys without a word; a command that says
    ``"units": 1`` and ``"units": 100`` is ambiguous, so it is refused here first."""
    try:
        strict_json(data)
    except DuplicateKey as duplicate:
        raise ValidationError.from_exception_data(
            "Command",
            [
                InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_key", "the key '{key}' appears twice", {"key": duplicate.key}
                    ),
                    loc=(duplicate.key,),
                    input=duplicate.key,
                )
            ],
        ) from None
    except (ValueError, RecursionError):
        pass  # not JSON at all: let the model say so, as it does for every other error
    return COMMANDS.validate_json(data)


def strict_json(data: bytes | str) -> Any:
    """A JSON document read by the wire's rules, for every edge that takes JSON (Kafka
    commands, HTTP bodies): no object names a key twice (``DuplicateKey``) and no string holds
    a lone surrogate (``"\\ud800"``: no UTF-8 text can carry it). ``json.JSONDecodeError``
    (a ``ValueError``) says why not."""
    text = data if isinstance(data, str) else data.decode()
    found = _DUPLICATES.decode(text)
    if "\\u" in text and not _encodable(found):
        raise json.JSONDecodeError("a string holds a lone surrogate", text, 0)
    return found


class DuplicateKey(json.JSONDecodeError):
    """A JSON object that names ``key`` twice."""

    def __init__(self, key: str) -> None:
        # The key is quoted ASCII-only: it may itself be a lone surrogate.
        super().__init__(f"the key {json.dumps(key)} appears twice", "", 0)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def _encodable(value: Any) -> bool:
    """Whether every string in a decoded document (keys too) is valid Unicode text."""
    if isinstance(value, str):
        return not any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(item) for item in value)
    return True


# One decoder for every command: ``json.loads`` with a hook builds a new one per call.
_DUPLICATES = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
