"""At this pace: given the days of use, then when the credits run out and what it rests on."""

from __future__ import annotations

from datetime import date

from projections.forecast import pace

TODAY = date(2026, 12, 10)


def test_at_seventy_credits_a_week_seventy_subscription_credits_last_a_week():
    used = {date(2026, 12, d): 10 for d in range(4, 11)}

    got = pace(used, TODAY, subscription=70, total=170, renews_on=date(2026, 12, 31))

    assert got.subscription_runs_out_on == date(2026, 12, 17)
    assert got.all_credits_run_out_on == date(2026, 12, 27)
    assert (got.window_days, got.used_credits, got.credits_per_day) == (7, 70, 10)


def test_credits_that_outlast_the_renewal_do_not_run_out():
    got = pace({TODAY: 7}, TODAY, subscription=700, total=700, renews_on=date(2026, 12, 31))

    assert got.subscription_runs_out_on is None and got.all_credits_run_out_on is not None


def test_no_use_in_the_window_means_no_run_out():
    got = pace({date(2026, 11, 1): 500}, TODAY, subscription=10, total=10, renews_on=None)

    assert (got.used_credits, got.subscription_runs_out_on, got.all_credits_run_out_on) == (
        0,
        None,
        None,
    )
