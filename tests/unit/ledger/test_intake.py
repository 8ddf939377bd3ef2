"""Reading records into commands or dead letters: every dead letter can itself be published,
and names its producer when the JSON lets it. Cases the fuzz run found are kept here."""

from __future__ import annotations

import json

from events.outcomes import DeadLetter
from services.ledger.intake import PAYLOAD_KEPT_BYTES, Incoming, read_command


def record(value: bytes | None, key: bytes | None = b"acct-1", headers=()) -> Incoming:
    return Incoming("commands", 0, 7, key, value, headers)


def letter_of(value: bytes | None, **kw) -> DeadLetter:
    letter = read_command(record(value, **kw), max_bytes=65_536)
    assert isinstance(letter, DeadLetter)
    letter.model_dump_json().encode()  # publishable
    return letter


def test_a_lone_surrogate_in_the_command_id_is_dead_lettered_publishably_and_not_named():
    letter = letter_of(b'{"command_id": "\\ud800", "account_id": "acct-1"}')

    assert (letter.reason, letter.command_id, letter.account_id) == ("undecodable", None, "acct-1")


def test_a_lone_surrogate_in_a_field_name_still_gives_a_publishable_error():
    letter = letter_of(b'{"type": "UseTool", "\\udfff": 1}')

    assert letter.reason == "undecodable"


def test_nesting_deeper_than_any_parser_is_undecodable_not_a_crash():
    assert letter_of(b"[" * 60_000).reason == "undecodable"


def test_a_schema_violation_names_its_command_and_account_for_the_refused_outcome():
    body = {"type": "UseTool", "command_id": "c-1", "account_id": "acct-1", "units": -3}

    letter = letter_of(json.dumps(body).encode())

    assert (letter.reason, letter.command_id, letter.account_id) == (
        "schema_violation",
        "c-1",
        "acct-1",
    )


def test_null_header_values_huge_keys_and_payloads_are_kept_cut_to_size():
    value = json.dumps({"command_id": "c-2", "pad": "x" * 900_000}).encode()

    letter = letter_of(value, key=b"k" * 5000, headers=[("trace", None), ("big", b"v" * 5000)])

    assert letter.reason == "oversized" and letter.payload_truncated
    assert letter.payload_bytes == len(value) and letter.command_id == "c-2"
    assert len(letter.payload_base64) <= 4 * PAYLOAD_KEPT_BYTES // 3 + 4
    assert letter.headers[0] == ("trace", None) and len(letter.headers[1][1] or "") < 1100
    assert len(letter.key or "") < 1100
    assert len(letter.model_dump_json()) < 120_000


USE = {
    "type": "UseTool",
    "command_id": "c-3",
    "account_id": "acct-1",
    "occurred_at": "2026-11-01T00:00:00Z",
    "tool": "keyword_suggestions",
}


def test_a_well_formed_command_keyed_by_its_account_is_read():
    command = read_command(record(json.dumps(USE).encode()), max_bytes=65_536)

    assert not isinstance(command, DeadLetter)
    assert (command.command_id, command.account_id) == ("c-3", "acct-1")


def test_an_empty_message_is_dead_lettered_as_empty():
    assert letter_of(None).reason == "empty"
    assert letter_of(b"").reason == "empty"


def test_a_command_without_a_key_or_keyed_by_another_account_is_dead_lettered_and_named():
    value = json.dumps(USE).encode()

    missing, other = letter_of(value, key=None), letter_of(value, key=b"acct-2")

    assert (missing.reason, missing.command_id) == ("missing_key", "c-3")
    assert (other.reason, other.account_id, other.key) == ("key_mismatch", "acct-1", "acct-2")


def test_an_unknown_command_type_is_dead_lettered_as_such():
    letter = letter_of(json.dumps({**USE, "type": "StealCredits"}).encode())

    assert (letter.reason, letter.command_id) == ("unknown_command_type", "c-3")
