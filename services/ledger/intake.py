"""Reading a Kafka record into a command, or into a dead letter that says why not."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from events.commands import Command, parse_command
from events.outcomes import DeadLetter, DeadLetterReason


@dataclass(frozen=True, slots=True)
class Incoming:
    """A record as it came off the commands topic, whatever client read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


def read_command(record: Incoming, max_bytes: int) -> Command | DeadLetter:
    """The command in ``record``, or a dead letter; never raises on bad input."""
    value = record.value or b""
    if not value:
        return _dead(record, "empty", "the message has no value")
    if len(value) > max_bytes:
        return _dead(record, "oversized", f"{len(value)} bytes is over the {max_bytes} limit")
    try:
        command = parse_command(value)
    except ValidationError as error:
        return _dead(record, _reason(error), _summary(error))
    if record.key is None:
        return _dead(
            record, "missing_key", "commands must be keyed by account_id", command.command_id
        )
    if record.key != command.account_id.encode():
        return _dead(
            record,
            "key_mismatch",
            f"key {record.key!r} is not account_id {command.account_id!r}",
            command.command_id,
        )
    return command


def dead_letter(
    record: Incoming, reason: DeadLetterReason, error: str, command_id: str | None = None
) -> DeadLetter:
    return _dead(record, reason, error, command_id)


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


def _dead(
    record: Incoming, reason: DeadLetterReason, error: str, command_id: str | None = None
) -> DeadLetter:
    return DeadLetter(
        reason=reason,
        error=error,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode(errors="replace"),
        payload_base64=base64.b64encode(record.value or b"").decode(),
        headers=tuple((k, v.decode(errors="replace")) for k, v in record.headers),
        command_id=command_id,
    )
