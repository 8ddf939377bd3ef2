"""The hot stored events' fast reading: msgspec mirrors of the ledger's events, read in one
pass in C, then built as the models without validating them again (``events.reading``, compiled
by mypyc, which cannot compile the mirrors themselves: msgspec builds their classes).

Pydantic's reading of a stored event (``LEDGER_EVENTS.validate_json``) is most of what the
projector and a cold account load spend on each. Each hot event is read here from its own
topic (the current one: ``type`` must match it), every field as strict as the models' or
stricter (``events.ledger``: ``Draw.credits`` above 0, a currency of three characters, the
literals, integers only as JSON integers; extra fields refused, as the models forbid them),
times only as the ledger writes them (``Z``, up to microseconds: ``datetime.UTC``, as
``one_utc`` makes them). Anything else, including every malformed document, every other event
type or topic and every time written otherwise, gets ``None`` and is read by pydantic, which
then accepts it or says exactly why not. So this path never accepts what the models refuse,
and reads what it accepts exactly as they do: the same type, values (in the same order),
``model_fields_set`` (a field left out takes the model's default, unnamed), times.

Where JSON itself is loose both readers agree, and the tests hold them to it: a key named twice
counts its last value (msgspec also checks the earlier ones, so it may decline what pydantic
reads), escapes and invalid Unicode are read or refused alike.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, NamedTuple

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from pydantic import AfterValidator, AwareDatetime

from events import ledger
from events.commands import BillingInterval, one_utc
from events.ledger import LedgerEvent, LotKind
from events.refusals import Detail

# A time as the ledger writes it (``json_of``): ``YYYY-MM-DDTHH:MM:SS``, then ``.ffffff`` or not,
# then ``Z``. Its separators are checked here and its digits by ``datetime.fromisoformat``
# (ASCII only), which also reads forms pydantic refuses (a week date, any separator for the
# ``T``); msgspec's own reading of a time would round a seventh digit where pydantic drops it.
Moment = str
_SEPARATORS = {20: "--T::Z", 27: "--T::."}  # by length: every third character from the fifth
Positive = Annotated[int, Meta(gt=0)]
Currency = Annotated[str, Meta(min_length=3, max_length=3)]


class Draw(Struct, forbid_unknown_fields=True):
    lot_id: str
    kind: LotKind
    credits: Positive
    lot_seq: int | UnsetType | None = UNSET


class Forfeit(Struct, forbid_unknown_fields=True, kw_only=True):
    """``Draw``'s fields and a reason, in the model's order (keyword-only: a required field
    after one with a default)."""

    lot_id: str
    kind: LotKind
    credits: Positive
    lot_seq: int | UnsetType | None = UNSET
    reason: Literal["expired", "removed"]


class _Mirror(Struct, forbid_unknown_fields=True):
    """Each mirror is read from its own topic, ``type`` in the model's place (the third)."""

    command_id: str
    occurred_at: Moment


class ToolUsed(_Mirror):
    type: Literal["ToolUsed"]
    tool: str
    units: int
    unit_cost_credits: int
    catalog_version: int
    credits: int
    draws: tuple[Draw, ...]


class CreditsReserved(_Mirror):
    type: Literal["CreditsReserved"]
    hold_id: str
    tool: str
    units: int | None
    unit_cost_credits: int | None
    catalog_version: int
    credits: int
    draws: tuple[Draw, ...]
    expires_at: Moment


class HoldSettled(_Mirror):
    type: Literal["HoldSettled"]
    hold_id: str
    tool: str
    credits: int
    draws: tuple[Draw, ...]
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class HoldReleased(_Mirror):
    type: Literal["HoldReleased"]
    hold_id: str
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class HoldExpired(_Mirror):
    type: Literal["HoldExpired"]
    hold_id: str
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class UsageRefunded(_Mirror):
    type: Literal["UsageRefunded"]
    of_command_id: str
    credits: int
    returned: tuple[Draw, ...]
    forfeited: tuple[Forfeit, ...]


class PackagePurchased(_Mirror):
    type: Literal["PackagePurchased"]
    lot_id: str
    package: str
    credits: int
    price_cents: int
    currency: Currency
    payment_ref: str
    catalog_version: int
    top_up: str | UnsetType | None = UNSET


class CycleStarted(_Mirror):
    type: Literal["CycleStarted"]
    plan: str
    billing_interval: BillingInterval
    cycle_start: Moment
    cycle_end: Moment
    lot_id: str
    credits: int
    expected_plan: str | UnsetType | None = UNSET


class CreditsExpired(_Mirror):
    type: Literal["CreditsExpired"]
    lot_id: str
    kind: LotKind
    credits: int
    expired_at: Moment


class CommandRefused(_Mirror):
    type: Literal["CommandRefused"]
    command_type: str
    code: str
    message: str
    details: dict[str, Detail]


HOT: Final = (
    ToolUsed,
    CreditsReserved,
    HoldSettled,
    HoldReleased,
    HoldExpired,
    UsageRefunded,
    PackagePurchased,
    CycleStarted,
    CreditsExpired,
    CommandRefused,
)


class _Reading(NamedTuple):
    """How one topic's events are read: its mirror's decoder, the model, and the model's
    fields that are read further (times, lots, defaults), in its order."""

    decoder: msgspec.json.Decoder[Any]
    model: type[LedgerEvent]
    moments: tuple[str, ...]
    lots: tuple[tuple[str, type[ledger.Draw]], ...]
    defaults: tuple[tuple[str, Any], ...]


# Each model's field types, as its mirror reads them: a hot model's field of any other type
# fails here, at import, rather than pass through unread.
_PLAIN = (str, int, str | None, int | None, LotKind, BillingInterval, dict[str, Detail])
_LOTS: dict[Any, type[ledger.Draw]] = {
    tuple[ledger.Draw, ...]: ledger.Draw,
    tuple[ledger.Forfeit, ...]: ledger.Forfeit,
}


def _reading(mirror: type[_Mirror]) -> _Reading:
    model: type[LedgerEvent] = getattr(ledger, mirror.__name__)
    fields = model.model_fields
    if tuple(fields) != mirror.__struct_fields__:
        raise TypeError(f"{mirror.__name__}'s mirror does not name its model's fields in order")
    moments: list[str] = []
    lots: list[tuple[str, type[ledger.Draw]]] = []
    defaults: list[tuple[str, Any]] = []
    for name, field in fields.items():
        if field.annotation is AwareDatetime and field.metadata == [AfterValidator(one_utc)]:
            moments.append(name)
        elif field.annotation in _LOTS:
            lots.append((name, _LOTS[field.annotation]))
        elif name != "type" and field.annotation not in _PLAIN:
            raise TypeError(f"{model.__name__}.{name} is of a type its mirror does not read")
        if not field.is_required() and name != "type":
            defaults.append((name, field.default))
    return _Reading(
        msgspec.json.Decoder(mirror),
        model,
        tuple(moments),
        tuple(lots),
        tuple(defaults),
    )


# By stored topic: the current one (``services.ledger.upcasting``'s), which for each hot event
# but ``PackagePurchased`` (version 2) is its type.
READINGS: Final = {
    (f"{mirror.__name__}@2" if mirror is PackagePurchased else mirror.__name__): _reading(mirror)
    for mirror in HOT
}
