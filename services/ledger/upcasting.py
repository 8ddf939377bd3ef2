"""Stored events as read: ``recorded`` splits a stored state into its chain hash and its JSON
(``unseal``) and reads the event at the current schema (``event_from``). Compiled with the core
(``services.native``): the projector reads every event this way, and a cold account's load too.

Schema evolution: each event type has a current schema version, and upcasters lift older
stored JSON to it when read. Stored bytes are never rewritten (the hash chain covers them).

Versions:
- ``PackagePurchased`` 2 adds ``currency`` (ISO 4217). Version 1 prices were always US cents.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from events.ledger import LEDGER_EVENTS, LedgerEvent
from events.reading import read_stored

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# A new version of a hot event is read fast only once its mirror reads its new topic
# (``events.event_mirrors.READINGS``; the tests say so): until then, by pydantic.
CURRENT: dict[str, int] = {"PackagePurchased": 2}
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("PackagePurchased", 1): lambda v1: {**v1, "currency": "USD"},
}


def _current_topics() -> frozenset[str]:
    names = [cls.model_fields["type"].default for cls in LedgerEvent.__subclasses__()]
    return frozenset(topic_of(name) for name in names)


def topic_of(event_type: str) -> str:
    """The stored topic of an event type at its current version: ``Type`` or ``Type@N``."""
    version = CURRENT.get(event_type, 1)
    return event_type if version == 1 else f"{event_type}@{version}"


def event_from(topic: str, payload: bytes) -> LedgerEvent:
    """The event in ``payload``, stored under ``topic``, lifted to the current schema."""
    if topic in _CURRENT_TOPICS:
        event = read_stored(topic, payload)  # the hot events' fast reading, exactly as pydantic's
        return LEDGER_EVENTS.validate_json(payload) if event is None else event
    event_type, _, stored = topic.partition("@")
    version, current = int(stored or 1), CURRENT.get(event_type, 1)
    data = json.loads(payload)
    while version < current:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    return LEDGER_EVENTS.validate_python(data)


_CURRENT_TOPICS = _current_topics()


class Recorded(NamedTuple):
    """A ledger event at its place in an account's stream, with its stored bytes and hash,
    and its place in the ledger's log when it was read from it (0: read otherwise)."""

    originator_id: str
    originator_version: int
    event: LedgerEvent
    payload: bytes = b""
    chain: str = ""
    position: int = 0

    @property
    def timestamp(self) -> datetime:
        return self.event.occurred_at


def recorded(
    account_id: str, version: int, topic: str, state: bytes, position: int = 0
) -> Recorded:
    """A stored event as read (at ``position`` in the log, if read from it): its chain hash
    checked for form, its JSON decoded (upcast)."""
    chain, payload = unseal(state)
    return Recorded(account_id, version, event_from(topic, payload), payload, chain, position)


def unseal(state: bytes | str) -> tuple[str, bytes]:
    """The chain hash and the event bytes of a stored state (text if someone rewrote it)."""
    data = state.encode() if isinstance(state, str) else bytes(state)
    header, _, payload = data.partition(b"\n")
    if not header.startswith(b"sha256:"):
        raise ValueError("stored event has no chain header")
    return header.removeprefix(b"sha256:").decode(), payload
