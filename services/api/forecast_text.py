"""The forecast said in sentences, as the account's page shows it: when subscription credits
run out at the recent pace, when the plan renews, how long purchased (and granted) credits
carry on after, and what the pace is based on. Pure: figures in, text out."""

from __future__ import annotations

from datetime import date

from projections.forecast import Pace

number = "{:,}".format


def day_text(day: date, today: date) -> str:
    """A day as people write it, "Dec 21"; with its year when that is not this one."""
    said = f"{day:%b} {day.day}"
    return said if day.year == today.year else f"{said}, {day.year}"


def summary(pace: Pace, subscription: int, purchased: int, granted: int, today: date) -> str:
    """The forecast's sentences, from the pace and the balance it was reckoned on. Purchased
    and granted credits are used after subscription credits: they count towards when every
    credit runs out."""
    said = (
        _subscription(pace, subscription, today),
        _everything(pace, purchased, granted, today),
        _basis(pace),
    )
    return " ".join(s for s in said if s)


def _subscription(pace: Pace, subscription: int, today: date) -> str:
    renews = f"your plan renews {day_text(pace.renews_on, today)}" if pace.renews_on else ""
    if pace.used_credits == 0:
        quiet = f"Nothing used in the last {pace.window_days} days, so nothing runs out"
        return f"{quiet}; {renews}." if renews else f"{quiet}."
    if not renews:
        return ""  # no plan: no subscription credits to speak of
    if subscription <= 0:
        return f"Your subscription credits are used up; {renews}."
    if pace.subscription_runs_out_on is not None:
        on = day_text(pace.subscription_runs_out_on, today)
        return f"At this pace your subscription credits run out on {on}; {renews}."
    return f"At this pace your subscription credits last until {renews}."


def _everything(pace: Pace, purchased: int, granted: int, today: date) -> str:
    if pace.all_credits_run_out_on is None:
        return ""
    on = day_text(pace.all_credits_run_out_on, today)
    if purchased or granted:
        kinds = " and ".join(k for k, n in (("purchased", purchased), ("granted", granted)) if n)
        others = number(purchased + granted)
        return f"Counting your {others} {kinds} credits, every credit runs out on {on}."
    if pace.subscription_runs_out_on is not None:
        return "You have no purchased credits to carry on until the renewal."
    return "" if pace.renews_on else f"Your credits run out on {on}."


def _basis(pace: Pace) -> str:
    per_day = pace.credits_per_day
    pace_text = f"{per_day:,.0f}" if per_day >= 10 or per_day == int(per_day) else f"{per_day:.1f}"
    used = number(pace.used_credits)
    return f"Pace: {used} credits over the last {pace.window_days} days, {pace_text} a day."
