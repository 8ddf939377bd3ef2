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
