"""The billing feed example's calendar: monthly cycles on the anchor day, 28 to 31 days long,
one after another, for monthly and yearly plans alike."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from examples.billing_feed import Subscription, boundary, feed, renewals


@pytest.mark.parametrize("anchor_day", [1, 15, 28, 29, 30, 31])
@pytest.mark.parametrize("interval", ["monthly", "yearly"])
def test_a_years_renewals_are_back_to_back_monthly_cycles_of_28_to_31_days(anchor_day, interval):
    subscription = Subscription("acct-1", "solo", interval, anchor_day)

    cycles = renewals(subscription, date(2027, 12, 5), 14)  # across a February and a new year

    assert len(cycles) == 14
    assert all(c.billing_interval == interval for c in cycles)
    assert all(
        timedelta(days=28) <= c.cycle_end - c.cycle_start <= timedelta(days=31) for c in cycles
    )
    assert all(a.cycle_end == b.cycle_start for a, b in itertools.pairwise(cycles))
    assert all(c.occurred_at == c.cycle_start for c in cycles)  # renewed on the boundary


def test_the_31st_renews_on_the_last_day_of_shorter_months():
    assert boundary(31, 2026, 2) == datetime(2026, 2, 28, tzinfo=UTC)
    assert boundary(31, 2028, 2) == datetime(2028, 2, 29, tzinfo=UTC)
    assert boundary(31, 2026, 13) == datetime(2027, 1, 31, tzinfo=UTC)


def test_the_feed_sends_each_accounts_commands_in_time_order_with_ids_from_the_date():
    subscriptions = [
        Subscription("acct-a", "solo", "monthly", 31),
        Subscription("acct-b", "business", "yearly", 15),
    ]

    commands = feed(subscriptions, date(2026, 1, 1), 3)

    assert [c.occurred_at for c in commands] == sorted(c.occurred_at for c in commands)
    assert len({c.command_id for c in commands}) == len(commands) == 3 * 2 + 3
    assert commands == feed(subscriptions, date(2026, 1, 1), 3)  # a rerun sends the same ids
