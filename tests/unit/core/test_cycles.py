"""Subscription credits: granted each monthly credit cycle, never rolled over, never late."""

import pytest

from events.ledger import CreditsExpired, CycleStarted
from tests.unit.core.scenario import (
    bought,
    day,
    event_types,
    given,
    renewed,
    spendable,
    then_refused,
    used,
    when,
)


@pytest.mark.parametrize(("plan", "credits"), [("solo", 980), ("business", 2200), ("agency", 4500)])
@pytest.mark.parametrize("interval", ["monthly", "yearly"])
def test_a_renewal_grants_the_plans_allowance_for_the_cycle(plan, credits, interval):
    decision = when(given(), renewed(plan, interval=interval))

    assert decision.outcome == CycleStarted(
        command_id=decision.outcome.command_id,
        occurred_at=day(0),
        plan=plan,
        billing_interval=interval,
        cycle_start=day(0),
        cycle_end=day(30),
        lot_id="cycle:2026-11-01T00:00:00+00:00",
        credits=credits,
    )
    assert spendable(decision.state) == (credits, 0, 0)


def test_a_yearly_plan_still_receives_its_allowance_every_monthly_cycle():
    account = given(renewed("business", 0, interval="yearly"), used(units=4))

    decision = when(account, renewed("business", 30, interval="yearly"))

    assert spendable(decision.state) == (2200, 0, 0)


def test_unused_subscription_credits_expire_at_renewal_and_nothing_rolls_over():
    account = given(renewed("solo", 0), used("content_analysis", units=30), bought("small"))

    decision = when(account, renewed("solo", 30))

    assert event_types(decision.events) == ["CreditsExpired", "CycleStarted"]
    expired = decision.events[0]
    assert (expired.kind, expired.credits, expired.expired_at) == ("subscription", 680, day(30))
    assert spendable(decision.state) == (980, 1000, 0)


def test_a_late_renewal_expires_the_old_allowance_as_of_the_new_cycles_start():
    account = given(renewed("solo", 0), used("content_analysis", units=10, at=29.5))

    decision = when(account, renewed("solo", 29, at=29.8))

    assert event_types(decision.events) == ["CreditsExpired", "CycleStarted"]
    assert (decision.events[0].credits, decision.events[0].expired_at) == (880, day(29))
    assert spendable(decision.state) == (980, 0, 0)


def test_subscription_credits_are_never_spendable_at_or_after_cycle_end():
    account = given(renewed("solo", 0))

    decision = when(account, used("keyword_suggestions", at=30))

    assert isinstance(decision.events[0], CreditsExpired)
    assert decision.events[0].credits == 980
    refusal = then_refused(decision, "insufficient_credits")
    assert refusal.details["available"] == 0


def test_subscription_credits_are_spendable_until_just_before_cycle_end():
    decision = when(given(renewed("solo", 0)), used("keyword_suggestions", at=29.999))

    assert event_types(decision.events) == ["ToolUsed"]


def test_an_expiry_is_recorded_once_the_first_time_it_matters():
    account = given(renewed("solo", 0), bought("small"))

    first = when(account, used("keyword_suggestions", at=31))
    second = when(first.state, used("keyword_suggestions", at=32))

    assert event_types(first.events) == ["CreditsExpired", "ToolUsed"]
    assert event_types(second.events) == ["ToolUsed"]
    assert spendable(second.state) == (0, 998, 0)


@pytest.mark.parametrize("start", [0, -30])
def test_a_renewal_of_the_same_or_an_older_cycle_is_refused_as_stale(start):
    account = given(renewed("solo", 0), used(units=2))

    decision = when(account, renewed("solo", start, at=1))

    then_refused(decision, "stale_cycle")
    assert spendable(decision.state) == (880, 0, 0)


def test_a_repeated_renewal_is_applied_once():
    first = when(given(), renewed("solo", 0, command_id="renewal-1"))

    repeat = when(first.state, renewed("solo", 0, command_id="renewal-1"))

    assert repeat.events == () and repeat.outcome == first.outcome


def test_a_renewal_for_an_unknown_plan_is_refused():
    then_refused(when(given(), renewed("enterprise")), "unknown_plan")
