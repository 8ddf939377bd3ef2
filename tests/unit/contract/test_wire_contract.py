"""The wire contract refuses malformed commands with clear, typed validation errors."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from events.commands import COMMANDS, UseTool
from events.ledger import LEDGER_EVENTS, Draw, ToolUsed
from events.refusals import InsufficientCredits, UnknownTool, refusal_from
from events.topics import COMMANDS as COMMANDS_TOPIC
from services.ledger.core import Catalog

BASE = {"command_id": "c-1", "account_id": "acct-1", "occurred_at": "2026-11-01T10:00:00Z"}


def test_a_command_is_parsed_by_its_type():
    command = COMMANDS.validate_json(
        '{"type": "UseTool", "command_id": "c-1", "account_id": "acct-1",'
        ' "occurred_at": "2026-11-01T10:00:00Z", "tool": "meta_description", "units": 2}'
    )

    assert command == UseTool(
        command_id="c-1",
        account_id="acct-1",
        occurred_at=datetime(2026, 11, 1, 10, tzinfo=UTC),
        tool="meta_description",
        units=2,
    )


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "UseTool", "tool": "x", "units": -1}, "greater than 0"),
        ({"type": "UseTool", "tool": "x", "units": 0}, "greater than 0"),
        ({"type": "UseTool", "tool": "x", "credits": 5}, "Extra inputs are not permitted"),
        ({"type": "MintCredits"}, "does not match any of the expected tags"),
        ({"type": "GrantCredits", "credits": -5, "reason": "x"}, "greater than 0"),
        ({"type": "SettleHold", "hold_id": "h", "credits": -1}, "greater than or equal to 0"),
        (
            {
                "type": "ReserveCredits",
                "hold_id": "h",
                "tool": "x",
                "units": 1,
                "credits": 5,
                "expires_at": "2026-11-02T00:00:00Z",
            },
            "exactly one of units or credits",
        ),
        (
            {
                "type": "CycleRenewed",
                "plan": "solo",
                "cycle_start": "2026-11-01T00:00:00Z",
                "cycle_end": "2026-11-01T00:00:00Z",
            },
            "cycle_end must be after cycle_start",
        ),
    ],
)
def test_a_malformed_command_is_refused_with_the_reason(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        COMMANDS.validate_python({**BASE, **fields})


def test_times_must_carry_a_timezone():
    with pytest.raises(ValidationError, match="timezone"):
        COMMANDS.validate_python(
            {**BASE, "occurred_at": "2026-11-01T10:00:00", "type": "UseTool", "tool": "x"}
        )


def test_an_account_id_must_be_a_plain_identifier():
    with pytest.raises(ValidationError, match="pattern"):
        COMMANDS.validate_python({**BASE, "account_id": "a b", "type": "UseTool", "tool": "x"})


def test_a_ledger_event_survives_a_json_round_trip():
    event = ToolUsed(
        command_id="c-1",
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        tool="meta_description",
        units=1,
        unit_cost_credits=2,
        catalog_version=1,
        credits=2,
        draws=(Draw(lot_id="package:p", kind="purchased", credits=2),),
    )

    assert LEDGER_EVENTS.validate_json(event.model_dump_json()) == event


def test_a_refusal_is_rebuilt_from_its_wire_form():
    insufficient = refusal_from(
        "insufficient_credits",
        "Insufficient Credits",
        {"required": 50, "available": 40, "subscription": 10, "purchased": 30, "granted": 0},
    )
    unknown = refusal_from("unknown_tool", "no tool 'x'", {"tool": "x"})
    other = refusal_from("something_new", "a newer ledger said no", {})

    assert isinstance(insufficient, InsufficientCredits)
    assert (insufficient.message, insufficient.details["available"]) == ("Insufficient Credits", 40)
    assert isinstance(unknown, UnknownTool) and unknown.details == {"tool": "x"}
    assert (other.code, other.message) == ("refused", "a newer ledger said no")


def test_a_catalog_without_tools_is_invalid():
    with pytest.raises(ValidationError, match="at least one tool"):
        Catalog(version=1, tools={}, plans={}, packages={})


def test_topic_names_are_the_prefix_and_the_role():
    assert COMMANDS_TOPIC.name("kalema.credits") == "kalema.credits.commands"
    assert COMMANDS_TOPIC.partitions >= 8
