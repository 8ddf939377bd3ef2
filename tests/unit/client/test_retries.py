"""How a call's time is shared among its attempts: the waits double and add up to the call's
``timeout_s``, so retries never make a caller wait longer than it asked."""

from __future__ import annotations

import itertools

import pytest

from services.client import LedgerClient
from services.settings import Settings


@pytest.mark.parametrize("retries", [0, 1, 2, 5])
async def test_the_waits_double_and_add_up_to_the_calls_timeout(retries):
    client = LedgerClient(Settings(), timeout_s=10, retries=retries)

    waits = [client._wait_s(attempt) for attempt in range(retries + 1)]

    assert sum(waits) == pytest.approx(10)
    assert all(later == pytest.approx(2 * earlier) for earlier, later in itertools.pairwise(waits))


async def test_ten_seconds_and_two_retries_send_at_0_and_1_4_and_4_3_seconds():
    client = LedgerClient(Settings(), timeout_s=10, retries=2)

    sends = [sum(client._wait_s(n) for n in range(attempt)) for attempt in range(3)]

    assert sends == pytest.approx([0, 1.43, 4.29], abs=0.01)
