"""The wire is strict (issue #10): what a producer meant is never guessed. Each case is a
value that used to be accepted (and read as something else) or that used to crash the core."""

import json

import pytest
from pydantic import ValidationError

from events.commands import parse_command

BASE = {"command_id": "c-1", "account_id": "acct-1", "occurred_at": "2026-11-01T10:00:00Z"}
USE = {**BASE, "type": "UseTool", "tool": "meta_description"}
RENEW = {**BASE, "type": "CycleRenewed", "plan": "solo"}
GRANT = {**BASE, "type": "GrantCredits", "credits": 5}


def refused(document: dict | str) -> str:
    raw = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(ValidationError) as error:
        parse_command(raw)
    return str(error.value)


@pytest.mark.parametrize("units", [True, False, "1_000", " 7 ", "7", 1e3, 1.0])
def test_units_that_are_not_a_json_integer_are_refused_not_coerced(units):
    assert "valid integer" in refused({**USE, "units": units})


@pytest.mark.parametrize("credits", [False, True, "5", 5.0])
def test_credits_that_are_not_a_json_integer_are_refused_not_coerced(credits):
    assert "valid integer" in refused({**GRANT, "credits": credits, "reason": "x"})


@pytest.mark.parametrize(
    "moment",
    [1762000000, "1762000000", "253402300799", "2026-11-01 10:00:00Z", "2026-W44-1T10:00Z"],
)
def test_times_that_are_not_iso_8601_text_are_refused_not_read_as_epochs(moment):
    assert "ISO 8601" in refused({**USE, "occurred_at": moment})


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:00:00-02:00",
        "1999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ],
)
def test_times_outside_2000_to_2200_are_refused_instead_of_overflowing(moment):
    assert "2000-01-01" in refused({**USE, "occurred_at": moment})
    start = {"cycle_start": moment, "cycle_end": "2026-12-01T00:00:00Z"}
    assert "2000-01-01" in refused({**RENEW, **start})


@pytest.mark.parametrize("moment", ["2000-01-01T00:00:00Z", "2199-12-31T23:59:59.999999Z"])
def test_times_at_the_bounds_are_accepted(moment):
    assert parse_command(json.dumps({**USE, "occurred_at": moment})).occurred_at.year in (
        2000,
        2199,
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000001Z"),  # a microsecond
        ("2026-11-01T00:00:00Z", "2026-11-01T23:00:00Z"),  # under a day
        ("2026-11-01T00:00:00Z", "2026-12-02T00:00:01Z"),  # over 31 days
        ("2026-11-01T00:00:00Z", "2027-11-01T00:00:00Z"),  # a year sent as one cycle
        ("2026-11-01T00:00:00Z", "2126-11-01T00:00:00Z"),  # a century
    ],
)
def test_a_cycle_shorter_than_a_day_or_longer_than_31_days_is_refused(start, end):
    assert "1 to 31 days" in refused({**RENEW, "cycle_start": start, "cycle_end": end})


def test_a_key_given_twice_is_refused_instead_of_the_last_one_winning():
    raw = json.dumps(USE)[:-1] + ', "units": 1, "units": 100}'

    message = refused(raw)

    assert "duplicate_key" in message and "'units' appears twice" in message


@pytest.mark.parametrize("reason", ["goodwill\x00", "a\u202egnp.exe", "line\nbreak", "\x1b[31m"])
def test_control_and_bidirectional_characters_in_free_text_are_refused(reason):
    assert "control character" in refused({**GRANT, "reason": reason})


def test_ordinary_text_with_accents_and_emoji_is_accepted():
    command = parse_command(json.dumps({**GRANT, "reason": "désolé pour la panne 🙏"}))

    assert command.reason == "désolé pour la panne 🙏"


def test_input_that_is_not_json_is_refused_as_json_invalid():
    assert "json_invalid" in refused("{not json") and "json_invalid" in refused("[" * 100_000)
