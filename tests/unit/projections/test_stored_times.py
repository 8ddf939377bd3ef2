"""SQLite keeps the read model's times as ISO 8601 text, written as ``isoformat`` writes it."""

from __future__ import annotations

import pytest
from pydantic import AwareDatetime, TypeAdapter

from projections.recorders import iso

MOMENTS = TypeAdapter(AwareDatetime)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-01T00:00:00Z",
        "2026-11-01T10:20:30.000123Z",
        "2026-11-01T10:20:30.5+05:30",
        "2026-11-01T10:20:30-08:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999+14:00",
    ],
)
def test_a_time_is_stored_as_isoformat_writes_it(text):
    moment = MOMENTS.validate_python(text)

    assert iso(moment) == moment.isoformat()


def test_a_time_written_again_is_written_as_before_and_an_equal_time_elsewhere_as_its_own():
    at_noon = MOMENTS.validate_python("2026-11-01T12:00:00Z")
    same_instant_in_paris = MOMENTS.validate_python("2026-11-01T13:00:00+01:00")

    assert iso(at_noon) == iso(MOMENTS.validate_python("2026-11-01T12:00:00Z"))
    assert at_noon == same_instant_in_paris
    assert iso(same_instant_in_paris) == "2026-11-01T13:00:00+01:00"
    assert iso(at_noon) == "2026-11-01T12:00:00+00:00"
