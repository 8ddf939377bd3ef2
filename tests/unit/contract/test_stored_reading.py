"""The fast reading of stored events (``events.reading``, through ``events.event_mirrors``)
accepts nothing the models refuse, reads exactly what they read (type, values, fields named,
every time at ``datetime.UTC``), and declines everything else to them."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from events import ledger
from events.encoding import json_of
from events.event_mirrors import HOT, READINGS, _Mirror, _reading
from events.ledger import LEDGER_EVENTS, Draw, Forfeit
from events.reading import _moment, read_stored
from services.ledger.upcasting import event_from, topic_of

AT = datetime(2026, 11, 1, 10, tzinfo=UTC)
LOT = Draw(lot_id="cycle:2026-11-01T00:00:00+00:00", kind="subscription", credits=3)
GONE = Forfeit(lot_id="package:p-1", kind="purchased", credits=2, lot_seq=4, reason="expired")
BASE: dict[str, Any] = {"command_id": "c-1", "occurred_at": AT}
EXAMPLES: dict[str, dict[str, Any]] = {
    "ToolUsed": {"tool": "t-1", "units": 3, "unit_cost_credits": 1, "catalog_version": 1,
                 "credits": 3, "draws": (LOT,)},
    "CreditsReserved": {"hold_id": "h-1", "tool": "t-1", "units": None, "unit_cost_credits": 5,
                        "catalog_version": 1, "credits": 5, "draws": (LOT, LOT),
                        "expires_at": AT + timedelta(hours=2)},
    "HoldSettled": {"hold_id": "h-1", "tool": "t-1", "credits": 2, "draws": (LOT,),
                    "returned": (LOT,), "forfeited": (GONE,)},
    "HoldReleased": {"hold_id": "h-1", "returned": (), "forfeited": (GONE,)},
    "HoldExpired": {"hold_id": "h-1", "returned": (LOT,), "forfeited": ()},
    "UsageRefunded": {"of_command_id": "c-0", "credits": 3, "returned": (LOT,), "forfeited": ()},
    "PackagePurchased": {"lot_id": "package:p-1", "package": "small", "credits": 1000,
                         "price_cents": 5000, "currency": "USD", "payment_ref": "p-1",
                         "catalog_version": 1, "top_up": "topup-1"},
    "CycleStarted": {"plan": "solo", "billing_interval": "monthly", "cycle_start": AT,
                     "cycle_end": AT + timedelta(days=30), "lot_id": "cycle:1", "credits": 200,
                     "expected_plan": None},
    "CreditsExpired": {"lot_id": "cycle:1", "kind": "subscription", "credits": 7,
                       "expired_at": AT},
    "CommandRefused": {"command_type": "UseTool", "code": "insufficient_credits",
                       "message": "not enough credits", "details": {"required": 5, "x": None}},
}  # fmt: skip


def stored(kind: str, /, **changes: Any) -> tuple[str, bytes]:
    """A hot event as the ledger stores it: its topic and its JSON."""
    event = getattr(ledger, kind)(**{**BASE, **EXAMPLES[kind], **changes})
    return topic_of(kind), json_of(event)


def document(kind: str, /, **changes: Any) -> dict[str, Any]:
    """A hot event's JSON as a document to change (``...``: a field left out)."""
    data = json.loads(stored(kind)[1])
    return {k: v for k, v in {**data, **changes}.items() if v is not ...}


def written(doc: dict[str, Any], separators: tuple[str, str] = (",", ":")) -> bytes:
    return json.dumps(doc, separators=separators, ensure_ascii=False).encode(errors="surrogatepass")


def test_every_hot_event_type_has_a_mirror_and_an_example():
    assert {mirror.__name__ for mirror in HOT} == set(EXAMPLES)


def test_each_mirror_reads_its_events_current_topic_and_only_that():
    """A new version of a hot event (``upcasting.CURRENT``) leaves its older topic to the
    upcasters, and fails here until its mirror reads the new one."""
    assert set(READINGS) == {topic_of(kind) for kind in EXAMPLES}


def test_a_mirror_that_does_not_name_its_models_fields_in_order_fails_at_import():
    class ToolUsed(_Mirror):
        type: Literal["ToolUsed"]
        units: int
        tool: str
        unit_cost_credits: int
        catalog_version: int
        credits: int
        draws: tuple[Any, ...]

    with pytest.raises(TypeError, match="does not name its model's fields in order"):
        _reading(ToolUsed)


def test_a_model_field_of_a_type_no_mirror_reads_fails_at_import():
    class CreditsGranted(_Mirror):  # its expires_at is a Moment or None
        type: Literal["CreditsGranted"]
        lot_id: str
        credits: int
        expires_at: str | None
        reason: str

    with pytest.raises(TypeError, match=r"CreditsGranted\.expires_at is of a type"):
        _reading(CreditsGranted)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_each_hot_event_as_the_ledger_stores_it_is_read_fast_as_pydantic_reads_it(kind):
    topic, data = stored(kind)

    read = read_stored(topic, data)

    assert read is not None
    assert_read_alike(topic, data, read)


@pytest.mark.parametrize(
    ("kind", "left_out"),
    [
        ("PackagePurchased", "top_up"),
        ("CycleStarted", "expected_plan"),
    ],
)
def test_a_field_left_out_takes_its_default_and_is_not_named_as_pydantic_does(kind, left_out):
    topic, data = topic_of(kind), written(document(kind, **{left_out: ...}))

    read = read_stored(topic, data)

    assert read is not None and left_out not in read.model_fields_set
    assert_read_alike(topic, data, read)


def test_a_draw_without_its_lot_seq_is_read_as_pydantic_reads_it():
    doc = document("HoldSettled")
    for lot in doc["draws"] + doc["returned"] + doc["forfeited"]:
        del lot["lot_seq"]
    topic, data = topic_of("HoldSettled"), written(doc)

    read = read_stored(topic, data)

    assert read is not None
    assert "lot_seq" not in read.draws[0].model_fields_set  # type: ignore[attr-defined]
    assert_read_alike(topic, data, read)


@pytest.mark.parametrize(
    "raw",
    [
        '{"command_id":"c-1","command_id":"c-2","occurred_at":"2026-11-01T10:00:00Z",'
        '"type":"HoldExpired","hold_id":"h-1","returned":[],"forfeited":[]}',
        '{"command_id":"c-1","occurred_at":"2026-11-01T10:00:00Z","type":"HoldExpired",'
        '"hold_id":"h-1","returned":[],"forfeited":[], "hold_id" : "h-2"}',
        '{"command_id":"c-1","occurred_at":"2026-11-01T10:00:00Z","type":"HoldExpired",'
        '"hold_id":"h-1","returned":[{"lot_id":"l","kind":"granted","credits":1,'
        '"credits":2}],"forfeited":[]}',
        '{"command_id":"c-1","occurred_at":"2026-11-01T10:00:00Z","type":"HoldExpired",'
        '"\\u0068old_id":"h-1","returned":[],"forfeited":[],"hold_id":"h-2"}',
    ],
)
def test_a_key_named_twice_is_read_as_pydantic_reads_it_the_last_one(raw):
    read = read_stored("HoldExpired", raw.encode())

    assert read is not None
    assert_read_alike("HoldExpired", raw.encode(), read)


def test_a_type_named_twice_is_never_read_as_another_type():
    raw = (
        b'{"command_id":"c-1","occurred_at":"2026-11-01T10:00:00Z","type":"HoldReleased",'
        b'"hold_id":"h-1","returned":[],"forfeited":[],"type":"HoldExpired"}'
    )

    for topic in ("HoldReleased", "HoldExpired"):
        read = read_stored(topic, raw)
        if read is not None:
            assert_read_alike(topic, raw, read)


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("ToolUsed", {"draws": [{**LOT.model_dump(), "credits": 0}]}),
        ("ToolUsed", {"draws": [{**LOT.model_dump(), "credits": -1}]}),
        ("ToolUsed", {"draws": [{**LOT.model_dump(), "kind": "gift"}]}),
        ("ToolUsed", {"draws": [{**LOT.model_dump(), "extra": 1}]}),
        ("ToolUsed", {"draws": [LOT.model_dump(exclude={"lot_id"})]}),
        ("ToolUsed", {"draws": None}),
        ("ToolUsed", {"units": ...}),
        ("ToolUsed", {"extra": None}),
        ("ToolUsed", {"type": "ToolUsedd"}),
        ("ToolUsed", {"occurred_at": "2026-11-01T10:00:00"}),
        ("ToolUsed", {"occurred_at": "2026-02-30T10:00:00Z"}),
        ("ToolUsed", {"occurred_at": "2026-11-01T24:00:00Z"}),
        ("ToolUsed", {"occurred_at": "0000-01-01T00:00:00Z"}),
        ("ToolUsed", {"occurred_at": "2026-W44-1T10:00:00Z"}),
        ("ToolUsed", {"occurred_at": "2026-11-01X10:00:00Z"}),
        ("ToolUsed", {"occurred_at": "\uff12026-11-01T10:00:00Z"}),  # a fullwidth digit
        ("ToolUsed", {"occurred_at": "2026-11-01T10:00:00.12345+Z"}),
        ("HoldSettled", {"forfeited": [{**GONE.model_dump(), "reason": "lost"}]}),
        ("HoldSettled", {"forfeited": [GONE.model_dump(exclude={"reason"})]}),
        ("HoldSettled", {"returned": [GONE.model_dump()]}),  # a reason on a plain draw
        ("PackagePurchased", {"currency": "US"}),
        ("PackagePurchased", {"currency": "USDD"}),
        ("PackagePurchased", {"currency": ...}),
        ("CycleStarted", {"billing_interval": "weekly"}),
        ("CreditsExpired", {"kind": "cycle"}),
        ("CommandRefused", {"details": {"x": 1.5}}),
        ("CommandRefused", {"details": {"x": [1]}}),
        ("CreditsReserved", {"expires_at": None}),
    ],
)
def test_what_the_models_refuse_is_declined_to_them(kind, changes):
    data = written(document(kind, **changes))

    assert read_stored(topic_of(kind), data) is None
    with pytest.raises(ValidationError):
        LEDGER_EVENTS.validate_json(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"occurred_at": "2026-11-01T12:00:00+02:00"},  # pydantic's own time zone, not UTC
        {"occurred_at": "2026-11-01T10:00:00+00:00"},
        {"occurred_at": "2026-11-01T10:00:00-00:00"},
        {"occurred_at": "2026-11-01T10:00:00.1234567Z"},  # msgspec would round, pydantic cuts
        {"occurred_at": "2026-11-01T10:00:00.5Z"},
        {"occurred_at": "2026-11-01 10:00:00Z"},
        {"occurred_at": "2026-11-01t10:00:00z"},
        {"occurred_at": "2026-11-01T10:00Z"},
        {"occurred_at": 1762000000},
        {"units": 3.0},
        {"units": "3"},
        {"units": True},
        {"draws": [{**LOT.model_dump(), "credits": "3"}]},
    ],
)
def test_what_pydantic_reads_in_its_own_way_is_left_to_it(changes):
    data = written(document("ToolUsed", **changes))

    assert read_stored("ToolUsed", data) is None
    LEDGER_EVENTS.validate_json(data)
    assert_read_alike("ToolUsed", data, event_from("ToolUsed", data))


def test_an_event_under_another_topic_is_left_to_pydantic():
    _, data = stored("ToolUsed")

    assert read_stored("CreditsExpired", data) is None
    assert read_stored("PackagePurchased", stored("PackagePurchased")[1]) is None  # version 1
    assert_read_alike("CreditsExpired", data, event_from("CreditsExpired", data))


# Hypothesis: every hot event, as written, with fields left out, other times and time zones,
# odd text, and mutations of every kind; the fast reading is None or reads as pydantic reads.
ODD = 'aZ09:-. \t"\\é\u202e\ud800\x00'
text = st.one_of(st.sampled_from(["t-1", ":x", "", "a b"]), st.text(st.sampled_from(ODD)))
count = st.one_of(st.integers(-3, 10), st.integers(-(2**70), 2**70))
zone = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=2)), timezone(-timedelta(minutes=90))]
)
moment = st.builds(
    lambda at, tz: at.replace(tzinfo=tz),
    st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    zone,
)
draw = st.builds(
    Draw,
    lot_id=text,
    kind=st.sampled_from(["subscription", "purchased", "granted"]),
    credits=st.integers(1, 2**65),
    lot_seq=st.one_of(st.none(), count),
)
forfeit = st.builds(
    Forfeit,
    lot_id=text,
    kind=st.sampled_from(["subscription", "purchased", "granted"]),
    credits=st.integers(1, 100),
    lot_seq=st.one_of(st.none(), count),
    reason=st.sampled_from(["expired", "removed"]),
)
VALUES = {
    str: text,
    int: count,
    str | None: st.one_of(st.none(), text),
    int | None: st.one_of(st.none(), count),
    ledger.AwareDatetime: moment,
    tuple[Draw, ...]: st.lists(draw, max_size=3).map(tuple),
    tuple[Forfeit, ...]: st.lists(forfeit, max_size=2).map(tuple),
    dict[str, ledger.Detail]: st.dictionaries(text, st.one_of(st.none(), text, count)),
}


def valued(kind: str) -> st.SearchStrategy[BaseModel]:
    """Events of type ``kind`` with any values the model takes."""
    model: type[BaseModel] = getattr(ledger, kind)
    fields = {}
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        fields[name] = VALUES.get(field.annotation, st.just(EXAMPLES[kind].get(name, AT)))
        if name == "currency":
            fields[name] = st.sampled_from(["USD", "EUR", "€€€", "US", "USDX"])
    return st.fixed_dictionaries(fields).map(lambda values: model.model_construct(**values))


json_value = st.one_of(
    st.none(),
    st.booleans(),
    count,
    st.floats(allow_nan=False),
    text,
    st.sampled_from(
        [
            "2026-11-01T10:00:00Z",
            "2026-11-01T10:00:00.123456Z",
            "2026-11-01T10:00:00.1234567Z",
            "2026-11-01T10:00:00+00:00",
            "subscription",
            "expired",
            "USD",
            [],
            [LOT.model_dump()],
            [GONE.model_dump()],
            [{"lot_id": "l", "kind": "granted", "credits": 0}],
            {"k": 1},
        ]
    ),
)


@st.composite
def stored_documents(draw_from: st.DrawFn) -> tuple[str, bytes]:
    """A hot event's topic and a document for it: as written, or changed."""
    kind = draw_from(st.sampled_from(sorted(EXAMPLES)))
    event = draw_from(valued(kind))
    doc = event.model_dump(mode="json")
    keys = sorted(doc)
    for key in draw_from(st.sets(st.sampled_from(keys), max_size=1)):
        del doc[key]
    for key in draw_from(st.sets(st.sampled_from([*keys, "bogus"]), max_size=1)):
        doc[key] = draw_from(json_value)
    separators = draw_from(st.sampled_from([(",", ":"), (", ", ": "), (",", " :")]))
    data = written(doc, separators)
    if draw_from(st.booleans()):  # a key named again, last, with another value
        key = draw_from(st.sampled_from(keys))
        again = json.dumps({key: draw_from(json_value)}, separators=separators)
        data = data[:-1] + b"," + again[1:].encode(errors="surrogatepass")
    topic = draw_from(st.sampled_from([topic_of(kind), topic_of(kind), *map(topic_of, EXAMPLES)]))
    return topic, data


@settings(max_examples=1500, deadline=None)
@given(stored_documents())
def test_any_stored_document_is_read_fast_only_as_pydantic_reads_it(stored_document):
    topic, data = stored_document
    read = read_stored(topic, data)
    if read is not None:
        assert_read_alike(topic, data, read)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXAMPLES)).flatmap(valued))
def test_every_valid_hot_event_written_by_the_ledger_is_read_fast_unless_its_times_are_not_utc(
    event,
):
    try:
        data = json_of(event)  # as the ledger writes it
    except ValueError:
        return  # text that is not valid Unicode: never written
    topic = topic_of(event.type)  # type: ignore[attr-defined]
    try:
        LEDGER_EVENTS.validate_json(data)
    except ValidationError:
        assert read_stored(topic, data) is None
        return
    read = read_stored(topic, data)
    times = [v for v in event.__dict__.values() if isinstance(v, datetime)]
    if all(t.utcoffset() == timedelta(0) for t in times):
        assert read is not None
    if read is not None:
        assert_read_alike(topic, data, read)


MOMENT = TypeAdapter(ledger.Moment)


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        st.text(st.sampled_from("0123456789-T:.Z+ Wtz\uff10"), min_size=18, max_size=28),
        st.builds(
            lambda canonical, at, char: canonical[:at] + char + canonical[at + 1 :],
            st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01T10:00:00.123456Z"]),
            st.integers(0, 26),
            st.sampled_from("0123456789-T:.Z+ Wtz\uff10"),
        ),
    )
)
def test_a_time_is_read_fast_only_as_pydantic_reads_it_at_utc(text):
    moment = _moment(text)
    if moment is None:
        return
    expected = MOMENT.validate_json(json.dumps(text))
    assert moment == expected and moment.tzinfo is UTC and expected.tzinfo is UTC


def assert_read_alike(topic: str, data: bytes, read: Any) -> None:
    """``read`` is what pydantic reads in ``data``, down to each model's fields named and the
    time zone of each time; ``event_from`` reads the same."""
    expected = LEDGER_EVENTS.validate_json(data)  # raises if the fast reading took a refusal
    assert type(read) is type(expected)
    assert read == expected
    assert read.model_dump() == expected.model_dump()
    assert json_of(read) == json_of(expected)  # the fields in the same order
    assert_same_fields(read, expected)
    again = event_from(topic, data)
    assert type(again) is type(expected) and again == expected
    assert_same_fields(again, expected)


def assert_same_fields(read: BaseModel, expected: BaseModel) -> None:
    assert type(read) is type(expected)
    assert read.model_fields_set == expected.model_fields_set
    assert list(read.__dict__) == list(expected.__dict__)
    for name, value in read.__dict__.items():
        other = expected.__dict__[name]
        if isinstance(value, datetime):
            assert type(value.tzinfo) is type(other.tzinfo) and value.tzinfo == other.tzinfo
            assert (value.tzinfo is UTC) == (other.tzinfo is UTC)
        elif isinstance(value, tuple):
            assert type(other) is tuple and len(value) == len(other)
            for lot, other_lot in zip(value, other, strict=True):
                assert_same_fields(lot, other_lot)
        elif isinstance(value, dict):
            assert list(value.items()) == list(other.items())
