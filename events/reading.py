"""The hot stored events read through their mirrors (``events.event_mirrors``): decoded in
C by msgspec, then built as the models without validating them again. A module of its own so
that mypyc compiles it (``services.native``): the mirrors, msgspec's classes, stay Python."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from msgspec import UNSET

from events import ledger
from events.event_mirrors import _SEPARATORS, READINGS, Draw, Forfeit
from events.ledger import LedgerEvent
from events.trusted import read, trusted

D = TypeVar("D", bound=ledger.Draw)

_asdict = msgspec.structs.asdict


def read_stored(topic: str, payload: bytes) -> LedgerEvent | None:
    """The event in ``payload``, stored under ``topic``, if it is a hot event that the models
    accept; ``None`` if it must be read by ``LEDGER_EVENTS`` instead."""
    reading = READINGS.get(topic)
    if reading is None:
        return None
    decoder, model, moments, lots, defaults = reading
    try:
        values = _asdict(decoder.decode(payload))
    except msgspec.MsgspecError:
        return None
    for name in moments:
        moment = _moment(values[name])
        if moment is None:
            return None
        values[name] = moment
    for name, lot in lots:
        if values[name]:  # else the empty tuple, as pydantic's
            values[name] = _lots(lot, values[name])
    unset: list[str] = []  # fields the document leaves out (``type`` is always named)
    for name, default in defaults:
        if values[name] is UNSET:
            values[name] = default  # the model's own: valid
            unset.append(name)
    return read(model, values, unset)


def _lots(model: type[D], mirrors: tuple[Draw | Forfeit, ...]) -> tuple[D, ...]:
    """The draws (or forfeits) as the model's."""
    lots = []
    for mirror in mirrors:
        values = _asdict(mirror)
        if mirror.lot_seq is UNSET:  # left out: the model's default, unnamed
            values["lot_seq"] = None
            lots.append(read(model, values, _LOT_SEQ))
        else:
            lots.append(trusted(model, values))
    return tuple(lots)


_LOT_SEQ = frozenset({"lot_seq"})


def _moment(text: str) -> datetime | None:
    """The time in ``text`` as ``Moment`` reads it, if it is written as the ledger writes it."""
    if text[4:20:3] != _SEPARATORS.get(len(text)) or text[-1] != "Z":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is UTC else None
