"""The forecast as the page says it: when subscription credits run out at the recent pace,
when the plan renews, how long purchased credits carry on, and what the pace is based on."""

from datetime import date

from projections.forecast import pace
from services.api.forecast_text import day_text, summary

TODAY = date(2026, 12, 4)
RENEWS = date(2027, 1, 1)


def test_subscription_credits_that_run_out_before_the_renewal_are_dated_with_both_days():
    got = pace({TODAY: 280}, TODAY, subscription=680, total=680, renews_on=RENEWS)

    said = summary(got, subscription=680, purchased=0, granted=0, today=TODAY)

    assert said == (
        "At this pace your subscription credits run out on Dec 21; your plan renews "
        "Jan 1, 2027. You have no purchased credits to carry on until the renewal. "
        "Pace: 280 credits over the last 7 days, 40 a day."
    )


def test_purchased_credits_are_counted_in_when_every_credit_runs_out():
    got = pace({TODAY: 280}, TODAY, subscription=680, total=1680, renews_on=RENEWS)

    said = summary(got, subscription=680, purchased=1000, granted=0, today=TODAY)

    assert "subscription credits run out on Dec 21" in said
    assert "Counting your 1,000 purchased credits, every credit runs out on Jan 15, 2027." in said


def test_subscription_credits_that_outlast_the_cycle_last_until_the_renewal():
    got = pace({TODAY: 7}, TODAY, subscription=900, total=900, renews_on=RENEWS)

    said = summary(got, subscription=900, purchased=0, granted=0, today=TODAY)

    assert said.startswith(
        "At this pace your subscription credits last until your plan renews Jan 1, 2027."
    )
    assert said.endswith("Pace: 7 credits over the last 7 days, 1 a day.")


def test_no_use_in_the_window_forecasts_no_run_out():
    got = pace({}, TODAY, subscription=980, total=980, renews_on=RENEWS)

    said = summary(got, subscription=980, purchased=0, granted=0, today=TODAY)

    assert said.startswith("Nothing used in the last 7 days, so nothing runs out; your plan")


def test_an_account_without_a_plan_hears_when_its_credits_run_out():
    got = pace({TODAY: 70}, TODAY, subscription=0, total=1000, renews_on=None)

    said = summary(got, subscription=0, purchased=1000, granted=0, today=TODAY)

    assert said.startswith("Counting your 1,000 purchased credits, every credit runs out on")
    assert "renews" not in said


def test_a_slow_pace_is_said_to_a_tenth_and_a_day_this_year_without_its_year():
    got = pace({TODAY: 3}, TODAY, subscription=900, total=900, renews_on=RENEWS)

    assert "0.4 a day" in summary(got, 900, 0, 0, TODAY)
    assert day_text(date(2026, 12, 21), TODAY) == "Dec 21"


def test_used_up_subscription_credits_are_said_so_not_dated_today():
    got = pace({TODAY: 70}, TODAY, subscription=0, total=500, renews_on=RENEWS)

    said = summary(got, subscription=0, purchased=500, granted=0, today=TODAY)

    assert said.startswith("Your subscription credits are used up; your plan renews Jan 1, 2027.")
