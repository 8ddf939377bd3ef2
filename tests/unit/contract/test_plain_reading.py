"""The fast reading of plain documents (``events.command_mirrors``) accepts nothing the wire's
models refuse, reads exactly what they read, and declines everything else to them."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from events.command_mirrors import read_plain
from events.commands import parse_command
from tests.workload import command_log

BASE = {"command_id": "c-1", "account_id": "acct-1", "occurred_at": "2026-11-01T10:00:00Z"}
USE = {**BASE, "type": "UseTool", "tool": "meta_description"}


def test_every_hot_command_of_the_workload_is_read_fast_and_as_the_models_read_it():
    fast = 0
    for command in command_log(400, 40):
        data = command.model_dump_json().encode()
        read = read_plain(data)
        if read is None:
            assert type(command).__name__ == "CycleRenewed"
            continue
        fast += 1
        assert_read_alike(data, read)
    assert fast > 300  # the rest: renewals


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"UseTool","command_id":"c-1","account_id":"a","occurred_at":'
        '"2026-11-01T10:00:00Z","tool":"t","units":1,"units":100}',
        '{"type":"UseTool","type":"UseTool","command_id":"c-1","account_id":"a",'
        '"occurred_at":"2026-11-01T10:00:00Z","tool":"t"}',
        '{"type":"UseTool","command_id":"c-1","account_id":"a","occurred_at":'
        '"2026-11-01T10:00:00Z","tool" :"t","tool":"u"}',
        '{"type":"UseTool","command_id":"c-1","account_id":"a","occurred_at":'
        '"2026-11-01T10:00:00Z","tool":"t","\\u0074ool":"u"}',
    ],
)
def test_a_key_named_twice_is_declined_and_the_models_refuse_it(raw):
    assert read_plain(raw.encode()) is None
    with pytest.raises(ValidationError, match="appears twice"):
        parse_command(raw)


@pytest.mark.parametrize(
    "change",
    [
        {"units": True},
        {"units": 1.0},
        {"units": "7"},
        {"units": 0},
        {"units": 10_001},
        {"occurred_at": "2026-11-01 10:00:00Z"},
        {"occurred_at": "2026-11-01T10:00:00"},
        {"occurred_at": "1999-12-31T23:59:59Z"},
        {"occurred_at": "2200-01-01T00:00:00Z"},
        {"occurred_at": "\uff12026-11-01T10:00:00Z"},  # a fullwidth digit
        {"occurred_at": 1762000000},
        {"tool": ""},
        {"tool": "a b"},
        {"tool": "é"},
        {"tool": "x" * 129},
        {"account_id": "acct\n"},
        {"extra": 1},
        {"type": "UseTools"},
    ],
)
def test_what_the_wire_refuses_is_declined_to_the_models(change):
    raw = json.dumps({**USE, **change}).encode()
    assert read_plain(raw) is None
    with pytest.raises(ValidationError):
        parse_command(raw)


RESERVE = {**BASE, "type": "ReserveCredits", "hold_id": "h-1", "tool": "t-1"}
LATER = "2026-11-01T11:00:00Z"


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_at": LATER},  # neither units nor credits
        {"expires_at": LATER, "units": None, "credits": None},
        {"expires_at": LATER, "units": 2, "credits": 5},  # both
        {"units": 2},  # no expiry
        {"expires_at": "2026-11-01T11:00Z", "credits": 5, "units": 2},
        {"expires_at": "2200-01-01T00:00:00Z", "units": 2},
        {"expires_at": "2026-11-01", "units": 2},
        {"expires_at": LATER, "credits": 0},
        {"expires_at": LATER, "credits": 100_000_001},
        {"expires_at": LATER, "units": 10_001},
    ],
)
def test_a_reservation_the_wire_refuses_is_declined_to_the_models(fields):
    raw = json.dumps({**RESERVE, **fields}, separators=(",", ":")).encode()
    assert read_plain(raw) is None
    with pytest.raises(ValidationError):
        parse_command(raw)


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_at": LATER, "units": 2},
        {"expires_at": LATER, "credits": 40},
        {"expires_at": "2026-11-01T13:00:00.25+02:00", "credits": 40, "units": None},
        {"units": None, "expires_at": LATER, "credits": 40},
    ],
)
def test_a_plain_reservation_is_read_fast_as_the_models_read_it(fields):
    raw = json.dumps({**RESERVE, **fields}, separators=(",", ":")).encode()
    read = read_plain(raw)
    assert read is not None
    assert_read_alike(raw, read)


text = st.text(st.sampled_from('aZ09._:@/+=- \t"\\é\u202e\ud800'), max_size=6)
moment = st.sampled_from(
    [
        "2026-11-01T10:00:00Z",
        "2026-11-01T10:00Z",
        "2026-11-01T10:00:00.5+02:00",
        "2026-11-01T10:00:00-00:00",
        "2026-11-01T10:00:00z",
        "2026-02-30T10:00:00Z",
        "2026-11-01T10:00:00+24:00",
        "2026-11-01T24:00:00Z",
        "2199-12-31T23:59:59.999999Z",
    ]
)
number = st.one_of(
    st.integers(-2, 10_002), st.booleans(), st.floats(0, 3), st.none(), st.just(100_000_001)
)
VALID = {
    "UseTool": {"tool": "t-1", "units": 2},
    "SettleHold": {"hold_id": "h-1", "credits": 3},
    "ReleaseHold": {"hold_id": "h:1"},
    "ExpireHolds": {},
    "RefundUsage": {"of_command_id": "c-0"},
    "RefundPackage": {"payment_ref": "p-1", "reason": "chargeback", "refunded_cents": 5},
    "RestorePackage": {"payment_ref": "p=1"},
    "ChangePlan": {"plan": "solo"},
    "BuyPackage": {"package": "small", "payment_ref": "p-1", "top_up": "topup-1", "paid": None},
    "GrantCredits": {"credits": 5, "reason": "sorry"},
    "ReserveCredits": {
        "hold_id": "h-1",
        "tool": "t-1",
        "units": 2,
        "expires_at": "2026-11-01T11:00:00Z",
    },
}
field = st.sampled_from(sorted({k for v in VALID.values() for k in v} | {"bogus", "type"}))
document = st.sampled_from(sorted(VALID)).flatmap(
    lambda kind: st.tuples(
        moment,
        st.sets(
            st.sampled_from(
                ["units", "reason", "refunded_cents", "command_id", "top_up", "paid", "expires_at"]
            )
        ),
        st.dictionaries(field, st.one_of(text, number), max_size=2),
    ).map(
        lambda parts: {
            k: v
            for k, v in {
                **BASE,
                "type": kind,
                "occurred_at": parts[0],
                **VALID[kind],
                **parts[2],
            }.items()
            if k not in parts[1]
        }
    )
)


@settings(max_examples=500, deadline=None)
@given(document, st.sampled_from([(",", ":"), (", ", ": "), (",", " :")]))
def test_any_document_is_read_fast_only_as_the_models_read_it(doc, separators):
    data = json.dumps(doc, separators=separators, ensure_ascii=False).encode(errors="surrogatepass")
    read = read_plain(data)
    if read is not None:
        assert_read_alike(data, read)


def assert_read_alike(data: bytes, read: object) -> None:
    expected = parse_command(data)  # raises if the fast reading accepted what it refuses
    assert read == expected
    assert type(read) is type(expected)
    assert read.model_dump_json() == expected.model_dump_json()  # type: ignore[attr-defined]
    assert read.model_fields_set == expected.model_fields_set  # type: ignore[attr-defined]
