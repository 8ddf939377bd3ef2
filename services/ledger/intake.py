"""Reading a Kafka record into a command, or into a dead letter that says why not.

Nothing here raises on bad input. A dead letter must itself fit in a Kafka record, whatever
came in (a command up to the broker's 1 MB limit, kilobytes of headers, a huge key): the copy
of the payload, the key and each header value are cut to fixed lengths, and the dead letter
says so and keeps the payload's size and hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from events.command_mirrors import read_plain
from events.commands import Command, parse_command
from events.outcomes import DeadLetter, DeadLetterReason

PAYLOAD_KEPT_BYTES = 64 * 1024  # base64 makes it 88 KiB: far below the 1 MB record limit
TEXT_KEPT_CHARS = 1024  # a key, a header value, an error message, an id read leniently
HEADERS_KEPT = 32


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record as it came off the commands topic, whatever client read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (None or negative: the record has none)."""


@dataclass(frozen=True, slots=True)
class Named:
    """What a rejected message says about itself, read leniently: who should hear about it."""

    command_id: str | None
    account_id: str | None


def read_command(record: Incoming, max_bytes: int) -> Command | DeadLetter:
    """The command in ``record``, or a dead letter; never raises on bad input."""
    value = record.value or b""
    if not value:
        return _dead(record, "empty", "the message has no value")
    if len(value) > max_bytes:
        return _dead(record, "oversized", f"{len(value)} bytes is over the {max_bytes} limit")
    try:
        command = read_plain(value) or parse_command(value)
    except ValidationError as error:
        return _dead(record, _reason(error), _summary(error))
    if record.key is None:
        return _dead(record, "missing_key", "commands must be keyed by account_id")
    if record.key != command.account_id.encode():
        return _dead(
            record,
            "key_mismatch",
            f"key {record.key!r} is not account_id {command.account_id!r}",
        )
    return command


def dead_letter(record: Incoming, reason: DeadLetterReason, error: str) -> DeadLetter:
    return _dead(record, reason, error)


def named(record: Incoming) -> Named:
    """The ``command_id`` and ``account_id`` of a message the models rejected, if its JSON
    has them as strings, so its producer can be answered instead of waiting for a timeout."""
    try:
        body: Any = json.loads(record.value or b"")
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        body = None
    fields = body if isinstance(body, dict) else {}
    return Named(_text(fields.get("command_id")), _text(fields.get("account_id")))


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= TEXT_KEPT_CHARS:
        return None
    return value if _encodable(value) else None


def _reason(error: ValidationError) -> DeadLetterReason:
    kinds = {e["type"] for e in error.errors()}
    if kinds & {"json_invalid", "json_type"}:
        return "undecodable"
    if kinds & {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown_command_type"
    return "schema_violation"


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or 'message'}: {e['msg']}"
        for e in error.errors()[:5]
    )


def _dead(record: Incoming, reason: DeadLetterReason, error: str) -> DeadLetter:
    payload = record.value or b""
    who = named(record)
    return DeadLetter(
        reason=reason,
        error=_cut(error),
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else _cut(record.key.decode(errors="replace")),
        payload_base64=base64.b64encode(payload[:PAYLOAD_KEPT_BYTES]).decode(),
        headers=tuple(
            (_cut(k), None if v is None else _cut(v.decode(errors="replace")))
            for k, v in list(record.headers)[:HEADERS_KEPT]
        ),
        command_id=who.command_id,
        account_id=who.account_id,
        payload_bytes=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        payload_truncated=len(payload) > PAYLOAD_KEPT_BYTES,
    )


def _cut(text: str) -> str:
    """At most ``TEXT_KEPT_CHARS``, and valid UTF-8: JSON may carry lone surrogates
    (``"\\ud800"``) that no UTF-8 encoder accepts, and the dead letter must be publishable."""
    if not _encodable(text):
        text = text.encode("utf-8", "replace").decode()
    return text if len(text) <= TEXT_KEPT_CHARS else text[:TEXT_KEPT_CHARS] + "…"


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
