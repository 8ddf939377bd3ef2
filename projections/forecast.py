"""When an account's credits run out at its recent pace: pure, figures and days of use in.

The pace is the credits used over the last ``window_days`` days up to ``today`` (today
included), per day. At that pace, subscription credits (used first) run out after
``subscription / pace`` days and every credit after ``total / pace``; a date at or after the
renewal is not a run-out (the plan renews first), and no use means no run-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Pace:
    window_days: int
    used_credits: int  # over the window
    subscription_runs_out_on: date | None
    all_credits_run_out_on: date | None
    renews_on: date | None

    @property
    def credits_per_day(self) -> float:
        return self.used_credits / self.window_days


def pace(
    used_by_day: Mapping[date, int],
    today: date,
    subscription: int,
    total: int,
    renews_on: date | None,
    window_days: int = WINDOW_DAYS,
) -> Pace:
    first = today - timedelta(days=window_days - 1)
    used = sum(credits for day, credits in used_by_day.items() if first <= day <= today)
    return Pace(
        window_days,
        used,
        _runs_out(subscription, used, window_days, today, renews_on),
        _runs_out(total, used, window_days, today, None),
        renews_on,
    )


def _runs_out(
    credits: int, used: int, window_days: int, today: date, renews_on: date | None
) -> date | None:
    if used <= 0:
        return None
    days = credits * window_days // used  # whole days the credits still cover
    on = today + timedelta(days=days)
    return None if renews_on is not None and on >= renews_on else on
