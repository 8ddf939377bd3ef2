"""Alerts fire once per crossing: low balance, depleted, subscription credits expiring soon."""

from __future__ import annotations

from datetime import timedelta

from projections.alerts import AlertRules, AlertState, evaluate
from projections.batch import quiet_alerts
from services.ledger.core.decide import top_up_request_id
from tests.unit.core.scenario import (
    ACCOUNT,
    auto_top_up,
    bought,
    card_saved,
    granted,
    renewed,
    top_up_failed,
    used,
)
from tests.unit.projections.history import alerts_per_command
from tests.unit.projections.test_fold import folded

LINE_100 = AlertRules(low_balance_credits=100, low_balance_percent=0, expiring_within=timedelta(0))


def test_low_balance_fires_once_when_the_total_falls_to_the_line_not_while_it_stays_below():
    said = alerts_per_command(
        LINE_100,
        renewed("solo", 0),
        used("content_analysis", units=88, at=1),  # 100 left: on the line
        used("keyword_suggestions", at=2),
        used("keyword_suggestions", at=3),
    )

    assert said == [[], ["low_balance"], [], []]


def test_low_balance_is_re_armed_once_the_total_is_back_above_the_line():
    said = alerts_per_command(
        LINE_100,
        renewed("solo", 0),
        used("content_analysis", units=90, at=1),  # 80
        bought("small", at=2),  # 1080
        used("content_analysis", units=100, at=3),  # 80
    )

    assert said == [[], ["low_balance"], [], ["low_balance"]]


def test_the_low_line_is_the_larger_of_the_absolute_line_and_the_share_of_the_allowance():
    rules = AlertRules(low_balance_credits=50, low_balance_percent=10)

    assert (rules.low_line(0), rules.low_line(980), rules.low_line(4500)) == (50, 98, 450)
    said = alerts_per_command(
        rules,
        renewed("agency", 0),
        used("content_analysis", units=405, at=1),  # 450 left
    )
    assert said == [[], ["low_balance"]]


def test_a_low_alert_says_which_line_was_crossed_and_the_figures_after_the_command():
    view = folded(renewed("solo", 0), used("content_analysis", units=90, at=1))

    state, [alert] = evaluate(view, AlertState(), LINE_100)

    assert (alert.kind, alert.threshold_credits, alert.balance.total) == ("low_balance", 100, 80)
    assert alert.alert_id == f"{ACCOUNT}:{view.version}:low_balance"
    assert state == AlertState(low_balance=True)


def test_reaching_zero_says_depleted_and_not_low():
    said = alerts_per_command(
        LINE_100, renewed("solo", 0), used("content_analysis", units=98, at=1)
    )

    assert said == [[], ["depleted"]]


def test_depleted_is_re_armed_by_any_credit_and_coming_back_below_the_line_is_no_crossing():
    said = alerts_per_command(
        LINE_100,
        renewed("solo", 0),
        used("content_analysis", units=98, at=1),  # 0
        granted(5, at=2),  # 5: still low, but it came from below
        used("keyword_suggestions", units=5, at=3),  # 0 again
    )

    assert said == [[], ["depleted"], [], ["depleted"]]


def test_a_renewal_that_passes_through_zero_inside_one_command_raises_nothing():
    said = alerts_per_command(
        LINE_100,
        renewed("solo", 0),
        used("content_analysis", units=50, at=1),
        renewed("solo", 30),  # expires the 480 left (total 0), then grants 980
    )

    assert said == [[], [], []]


def test_expiring_soon_fires_once_per_cycle_while_subscription_credits_remain():
    rules = AlertRules(low_balance_credits=0, low_balance_percent=0)  # 72 hours
    said = alerts_per_command(
        rules,
        renewed("solo", 0),  # ends on day 30
        used(at=26),  # 4 days before
        used(at=27.5),  # 2.5 days before
        used(at=28),
        renewed("solo", 30),  # a new cycle re-arms it
        used(at=57.5),
    )

    assert said == [[], [], ["subscription_expiring_soon"], [], [], ["subscription_expiring_soon"]]


def test_expiring_soon_is_not_said_when_no_subscription_credits_remain():
    rules = AlertRules(low_balance_credits=0, low_balance_percent=0)
    said = alerts_per_command(
        rules,
        renewed("solo", 0),
        bought("small"),
        used("content_analysis", units=98, at=1),
        used(at=28),
    )

    assert said == [[], [], [], []]


def test_the_expiring_alert_names_when_the_credits_expire():
    view = folded(renewed("solo", 0), used(at=28))

    _, [alert] = evaluate(view, AlertState(), AlertRules(low_balance_credits=0))

    assert (alert.kind, alert.expires_at, alert.balance.subscription) == (
        "subscription_expiring_soon",
        view.account.cycle_end,
        930,
    )


def test_an_account_that_was_never_opened_raises_nothing():
    said = alerts_per_command(LINE_100, used(at=1))  # refused: unknown account

    assert said == [[]]


def test_a_quiet_state_takes_what_holds_now_as_already_said_and_arms_the_rest():
    low = folded(renewed("solo", 0), used("content_analysis", units=90, at=1))
    plenty = folded(renewed("solo", 0))

    expiring = folded(renewed("solo", 0), used(at=28))
    rules = AlertRules(low_balance_credits=100, low_balance_percent=0)

    assert evaluate(low, quiet_alerts(low, rules), rules)[1] == ()
    assert evaluate(expiring, quiet_alerts(expiring, rules), rules)[1] == ()
    assert quiet_alerts(plenty, rules) == AlertState()


def test_each_declined_top_up_attempt_fires_top_up_failed_once_with_the_providers_reason():
    first = top_up_request_id(ACCOUNT, "use-crossing")
    retry = top_up_request_id(ACCOUNT, "declined-1")
    said = alerts_per_command(
        AlertRules(low_balance_credits=0, low_balance_percent=0, expiring_within=timedelta(0)),
        renewed("solo", 0),
        card_saved(),
        auto_top_up(950, max_per_month=1),
        used(at=1, command_id="use-crossing"),  # 930: a top-up is asked
        top_up_failed(first, "insufficient_funds", at=1, command_id="declined-1"),
        used(at=2),
        top_up_failed(retry, "card_declined", at=2),
    )
    view = folded(
        renewed("solo", 0),
        card_saved(),
        auto_top_up(950),
        used(at=1, command_id="use-crossing"),
        top_up_failed(first, "insufficient_funds", at=1, command_id="declined-1"),
    )

    assert said == [[], [], [], [], ["top_up_failed"], [], ["top_up_failed"]]
    _, [alert] = evaluate(view, AlertState(), LINE_100)
    assert (alert.kind, alert.reason) == ("top_up_failed", "insufficient_funds")
