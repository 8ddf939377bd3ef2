"""Changing plan mid-cycle: upgrades grant the difference now, downgrades wait for renewal."""

from tests.unit.core.scenario import (
    changed_plan,
    day,
    event_types,
    given,
    renewed,
    spendable,
    then_refused,
    used,
    when,
)


def test_an_upgrade_grants_the_difference_for_the_current_cycle_at_once():
    account = given(renewed("solo"), used(units=10))

    decision = when(account, changed_plan("business", at=5))

    assert event_types(decision.events) == ["PlanUpgraded"]
    assert (decision.outcome.from_plan, decision.outcome.credits) == ("solo", 1220)
    assert spendable(decision.state) == (1700, 0, 0)
    assert decision.state.plan == "business"


def test_upgraded_credits_expire_with_the_cycle():
    account = given(renewed("solo", 0), changed_plan("agency", at=5))

    decision = when(account, renewed("agency", 30))

    assert decision.events[0].credits == 4500
    assert spendable(decision.state) == (4500, 0, 0)


def test_a_downgrade_takes_effect_at_the_next_renewal():
    account = given(renewed("agency", 0))

    decision = when(account, changed_plan("solo", at=5))

    assert event_types(decision.events) == ["PlanDowngradeScheduled"]
    assert decision.outcome.effective_at == day(30)
    assert spendable(decision.state) == (4500, 0, 0)
    assert (decision.state.plan, decision.state.pending_plan) == ("agency", "solo")


def test_changing_back_to_the_current_plan_cancels_a_scheduled_downgrade():
    account = given(renewed("agency"), changed_plan("solo", at=5))

    decision = when(account, changed_plan("agency", at=6))

    assert event_types(decision.events) == ["PlanDowngradeCancelled"]
    assert decision.state.pending_plan is None


def test_an_upgrade_after_a_scheduled_downgrade_never_grants_twice():
    account = given(renewed("solo"), changed_plan("agency", at=1), changed_plan("solo", at=2))

    decision = when(account, changed_plan("agency", at=3))

    assert event_types(decision.events) == ["PlanDowngradeCancelled"]
    assert spendable(decision.state) == (4500, 0, 0)


def test_changing_to_the_same_plan_is_refused():
    then_refused(when(given(renewed("solo")), changed_plan("solo")), "plan_unchanged")


def test_changing_plan_without_a_current_cycle_is_refused():
    then_refused(when(given(), changed_plan("agency")), "no_subscription")
    then_refused(when(given(renewed("solo", 0)), changed_plan("agency", at=31)), "no_subscription")


def test_changing_to_an_unknown_plan_is_refused():
    then_refused(when(given(renewed("solo")), changed_plan("platinum")), "unknown_plan")
