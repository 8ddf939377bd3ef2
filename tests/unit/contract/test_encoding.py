"""The outcomes and dead letters the ledger publishes, and the events it stores, are written
by msgspec (``events.encoding``): byte for byte what pydantic's ``model_dump_json`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.checkpoints import ChainHead
from events.encoding import json_of
from events.ledger import CommandRefused, CreditsReserved, Draw, ExpiryChecked
from events.outcomes import BalanceFigures, DeadLetter, Outcome
from events.trusted import made

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
detail = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), text)


@given(
    text,
    st.one_of(st.none(), text),
    st.dictionaries(text, detail, max_size=4),
    st.lists(st.integers(1, 10**9), max_size=3),
    st.booleans(),
)
def test_an_outcome_is_written_as_pydantic_writes_it(code, message, details, credits, repeat):
    charged = tuple(Draw(lot_id=f"lot-{n}", kind="purchased", credits=c, lot_seq=n)
                    for n, c in enumerate(credits))  # fmt: skip
    figures = BalanceFigures(subscription=1, purchased=2, granted=0, held=5, total=3)
    outcome = Outcome(command_id="c-1", account_id="a-1", command_type="UseTool",
                      status="refused", code=code, message=message, details=details,
                      charged=charged, events=("ToolUsed",), balance=figures,
                      stream_version=7, repeat=repeat)  # fmt: skip

    assert json_of(outcome) == outcome.model_dump_json().encode()


@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2199, 12, 30)),
       st.integers(-14 * 60, 14 * 60))  # fmt: skip
def test_an_event_is_written_as_pydantic_writes_it_at_any_time_and_offset(moment, offset_min):
    at = moment.replace(tzinfo=UTC if offset_min == 0 else timezone(timedelta(minutes=offset_min)))
    events = [
        ExpiryChecked(command_id="c", occurred_at=at),
        made(CreditsReserved, command_id="c", occurred_at=at, type="CreditsReserved",
             hold_id="h", tool="t", units=None, unit_cost_credits=None, catalog_version=1,
             credits=3, draws=(Draw(lot_id="l", kind="granted", credits=3),), expires_at=at),
        CommandRefused(command_id="c", occurred_at=at, command_type="UseTool", code="x",
                       message="no \u2028 \"quote\" é", details={"n": 1, "s": "t", "z": None}),
    ]  # fmt: skip

    for event in events:
        assert json_of(event) == event.model_dump_json().encode()


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=128),
    st.integers(1, 2**63 - 1),
    text,
    st.one_of(st.just(("", "")), st.tuples(text, text)),
)
def test_a_chain_head_is_written_as_pydantic_writes_it(account_id, version, head, signed):
    key_id, signature = signed
    checkpoint = ChainHead(
        account_id=account_id, version=version, head=head, key_id=key_id, signature=signature
    )

    assert json_of(checkpoint) == checkpoint.model_dump_json().encode()


def test_a_dead_letter_is_written_as_pydantic_writes_it():
    letter = DeadLetter(
        reason="undecodable",
        error="bad \x00 é",
        source_topic="t",
        partition=0,
        offset=3,
        key=None,
        payload_base64="",
        headers=(("h", None), ("k", "v")),
    )

    assert json_of(letter) == letter.model_dump_json().encode()


def test_text_that_is_not_unicode_cannot_be_written_as_with_pydantic():
    outcome = Outcome(command_id="c", account_id="a", command_type="UseTool", status="refused",
                      message="lone \ud800")  # fmt: skip

    with pytest.raises(ValueError):
        json_of(outcome)
    with pytest.raises(ValueError):
        outcome.model_dump_json()
