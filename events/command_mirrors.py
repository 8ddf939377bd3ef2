"""The hot commands' fast reading: msgspec mirrors of the commands, read in one pass in C.

Only a plain document is read here: no escape (``\\``) and no whitespace anywhere, every key
named once (counted: with no whitespace each key is followed by ``":``, so that count must
equal the keys decoded), every field as strict as the wire's (``events.commands``), and
``ReserveCredits``' one rule across its fields (exactly one of units or credits). Anything
else, including every malformed message and every other command with a rule across its fields
(``CycleRenewed``, free text in ``GrantCredits``, ``BuyPackage``'s offer), gets ``None`` and
is read by ``parse_command``, which then accepts it or says exactly why not. So this path
never accepts what the models refuse, and never answers an error of its own.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from events import commands
from events.commands import EARLIEST, LATEST, Command
from events.trusted import read

_ESCAPE_OR_SPACE = b"\\ \t\n\r"
_IDENTIFIER_CHARS = string.ascii_letters + string.digits + "._:@/+=-"
# The wire's time, ASCII digits only: ``datetime.fromisoformat`` also reads forms the wire
# refuses (a date alone, no separators, a space for the ``T``).
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)

Id = Annotated[str, Meta(min_length=1, max_length=128)]
Units = Annotated[int, Meta(gt=0, le=10_000)]
Cents = Annotated[int, Meta(ge=0, le=100_000_000)]
Credits = Annotated[int, Meta(gt=0, le=100_000_000)]
RefundedCents = Annotated[int, Meta(ge=1, le=100_000_000)]


class _Mirror(Struct, tag_field="type", forbid_unknown_fields=True):
    command_id: Id
    account_id: Id
    occurred_at: str


class UseTool(_Mirror, tag=True):
    tool: Id
    units: Units | UnsetType = UNSET


class SettleHold(_Mirror, tag=True):
    hold_id: Id
    credits: Cents


class ReserveCredits(_Mirror, tag=True):
    """Exactly one of ``units`` or ``credits``: ``read_plain`` checks that rule."""

    hold_id: Id
    tool: Id
    expires_at: str
    units: Units | UnsetType | None = UNSET
    credits: Credits | UnsetType | None = UNSET


class ReleaseHold(_Mirror, tag=True):
    hold_id: Id


class ExpireHolds(_Mirror, tag=True):
    pass


class RefundUsage(_Mirror, tag=True):
    of_command_id: Id


class RefundPackage(_Mirror, tag=True):
    payment_ref: Id
    reason: Literal["refund", "chargeback"] | UnsetType = UNSET
    refunded_cents: RefundedCents | UnsetType | None = UNSET


class RestorePackage(_Mirror, tag=True):
    payment_ref: Id


class ChangePlan(_Mirror, tag=True):
    plan: Id


class BuyPackage(_Mirror, tag=True):
    """With no ``offer`` or ``paid`` (null or left out): a document that has one is read by
    the models."""

    package: Id
    payment_ref: Id
    offer: UnsetType | None = UNSET
    paid: UnsetType | None = UNSET
    top_up: Id | UnsetType | None = UNSET


_HOT = (
    UseTool,
    SettleHold,
    ReserveCredits,
    ReleaseHold,
    ExpireHolds,
    RefundUsage,
    RefundPackage,
    RestorePackage,
    ChangePlan,
    BuyPackage,
)
_IDENTIFIERS = {name for mirror in _HOT for name in mirror.__struct_fields__} - {
    "occurred_at",
    "expires_at",
    "offer",
    "paid",
    "units",
    "credits",
    "reason",
    "refunded_cents",
}
# Each mirror's command, and the command's fields in its own order: each with its default and
# whether it is an identifier.
_TARGETS: dict[type[_Mirror], tuple[type[Command], tuple[tuple[str, Any, bool], ...]]] = {
    mirror: (
        getattr(commands, mirror.__name__),
        tuple(
            (name, field.default, name in _IDENTIFIERS)
            for name, field in getattr(commands, mirror.__name__).model_fields.items()
        ),
    )
    for mirror in _HOT
}
_DECODER = msgspec.json.Decoder(UseTool | SettleHold | ReserveCredits | ReleaseHold
                                | ExpireHolds | RefundUsage | RefundPackage | RestorePackage
                                | ChangePlan | BuyPackage)  # fmt: skip


def read_plain(data: bytes) -> Command | None:
    """The command in ``data`` if it is a plain document of a hot command that the wire
    accepts; ``None`` if it must be read by ``parse_command`` instead."""
    if len(data.translate(None, _ESCAPE_OR_SPACE)) != len(data):
        return None
    try:
        mirror = _DECODER.decode(data)
    except msgspec.MsgspecError:
        return None
    command_type, fields = _TARGETS[type(mirror)]
    values: dict[str, Any] = {}
    unset: list[str] = []  # fields the document leaves out (``type`` is always named)
    for name, default, identifier in fields:
        value = getattr(mirror, name, default)
        if value is UNSET:
            value = default  # the model's own: valid
            unset.append(name)
        elif identifier and value is not None and value.strip(_IDENTIFIER_CHARS):
            return None
        values[name] = value
    if data.count(b'":') != len(fields) - len(unset):
        return None  # a key named twice, or a string that starts with a colon
    moment = _moment(values["occurred_at"])
    if moment is None:
        return None
    values["occurred_at"] = moment
    if command_type is commands.ReserveCredits:
        expires_at = _moment(values["expires_at"])
        if expires_at is None or (values["units"] is None) == (values["credits"] is None):
            return None  # the models say exactly why
        values["expires_at"] = expires_at
    return read(command_type, values, unset)


def _moment(text: str) -> datetime | None:
    if not _MOMENT.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if EARLIEST <= moment < LATEST else None
