"""The demo account's seed: this month's cycle, then a week of varied use in it up to now."""

from datetime import UTC, date, datetime

from events.outcomes import BalanceFigures, Outcome
from projections.forecast import pace
from services.api.demo import days_of_use, said, this_months_cycle
from tests.unit.core.scenario import CATALOG

NOW = datetime(2026, 12, 4, 8, 5, tzinfo=UTC)
RENEWS = date(2027, 1, 1)


def test_the_cycle_is_renewed_at_the_months_first_instant_before_any_use():
    cycle = this_months_cycle("acct-demo", NOW)
    uses = days_of_use("acct-demo", NOW)

    assert (cycle.cycle_start, cycle.cycle_end) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert cycle.occurred_at == cycle.cycle_start < uses[0].occurred_at


def test_the_uses_cover_each_day_of_the_cycle_so_far_in_time_order_and_none_after_now():
    uses = days_of_use("acct-demo", NOW)

    assert sorted({u.occurred_at.date().day for u in uses}) == [1, 2, 3, 4]
    assert [u.occurred_at for u in uses] == sorted(u.occurred_at for u in uses)
    assert max(u.occurred_at for u in uses) == NOW
    assert len({u.tool for u in uses}) >= 4  # varied, for the chart
    assert (uses[-1].tool, uses[-1].units) == ("keyword_suggestions", 2)


def test_late_in_the_month_only_the_last_week_is_seeded():
    uses = days_of_use("acct-demo", datetime(2026, 12, 31, 23, tzinfo=UTC))

    assert min(u.occurred_at for u in uses).day == 25


def test_a_week_of_use_is_enough_for_the_forecast_to_see_solo_run_out_before_the_renewal():
    week = days_of_use("acct-demo", datetime(2026, 12, 7, 23, tzinfo=UTC))
    used = sum(CATALOG.tools[u.tool].credits * u.units for u in week)

    got = pace({date(2026, 12, 7): used}, date(2026, 12, 7), 980 - used, 980 - used, RENEWS)

    assert got.subscription_runs_out_on is not None and got.subscription_runs_out_on < RENEWS


def test_a_repeat_names_the_same_commands():
    assert [u.command_id for u in days_of_use("acct-demo", NOW)] == [
        u.command_id for u in days_of_use("acct-demo", NOW.replace(hour=23))
    ]


def test_the_seed_says_what_it_did_in_one_line():
    figures = BalanceFigures(subscription=757, purchased=0, granted=0, held=0, total=757)
    outcomes = [
        Outcome(command_id=c, account_id="acct-demo", command_type=t, status="accepted")
        for c, t in (("demo-cycle-2026-12", "CycleRenewed"), ("demo-use-1", "UseTool"))
    ]
    outcomes[-1] = outcomes[-1].model_copy(update={"balance": figures})

    assert said(outcomes) == "demo: acct-demo cycle accepted, 1 uses, 757 credits left"
