"""The audit's findings on time and cycles (issue #10), each as the sequence that used to crash
``handle`` or roll credits over, and the answer the product calls for."""

from datetime import UTC, datetime

from events.commands import ChangePlan, CycleRenewed
from events.ledger import CreditsExpired, CycleStarted, ExpiryChecked
from tests.unit.core.scenario import (
    ACCOUNT,
    balance,
    bought,
    changed_plan,
    day,
    event_types,
    given,
    holds_expired,
    refunded_use,
    released,
    renewed,
    reserved,
    settled,
    spendable,
    then_refused,
    used,
    when,
)

# 1. An account's time never goes back ------------------------------------------------------


def test_a_backdated_plan_change_after_the_cycle_expired_is_refused_instead_of_crashing():
    account = given(renewed("solo", 0), bought("small"), used("keyword_suggestions", at=31))

    decision = when(account, changed_plan("agency", at=29))

    then_refused(decision, "no_subscription")
    assert decision.outcome.occurred_at == day(31)  # decided as of the account's latest time


def test_a_plan_change_after_a_far_future_command_is_refused_instead_of_crashing():
    far = (datetime(2199, 6, 1, tzinfo=UTC) - day(0)).days
    account = given(renewed("solo", 0), bought("small"), used("keyword_suggestions", at=far))

    then_refused(when(account, changed_plan("agency", at=1)), "no_subscription")


def test_a_late_use_is_charged_as_of_the_accounts_latest_time_not_from_expired_credits():
    account = given(renewed("solo", 0), bought("small"), used("keyword_suggestions", at=31))

    decision = when(account, used("keyword_suggestions", at=10))

    assert decision.outcome.occurred_at == day(31)
    assert [d.kind for d in decision.outcome.draws] == ["purchased"]


# 2. No rollover through an early renewal ---------------------------------------------------


def test_a_refund_after_an_early_renewal_never_makes_two_cycles_of_credits_spendable():
    account = given(
        renewed("solo", 0),
        used("content_analysis", units=98, command_id="u1"),
        renewed("solo", 29, at=28),
    )

    refunded = when(account, refunded_use("u1", at=28.5))

    assert spendable(refunded.state) == (980, 0, 0)  # the old cycle's credits, until day 29
    later = when(refunded.state, used("keyword_suggestions", at=29.5))
    assert event_types(later.events) == ["CreditsExpired", "ToolUsed"]
    assert (later.events[0].credits, later.events[0].expired_at) == (980, day(29))
    assert spendable(later.state) == (979, 0, 0)


def test_a_hold_released_after_the_next_cycle_began_gives_its_old_credits_to_nobody():
    account = given(
        renewed("solo", 0),
        reserved(credits=980, at=28.6, expires=29.5),
        renewed("solo", 29, at=28.7),
    )

    decision = when(account, released(at=29.2))

    assert event_types(decision.events) == ["CreditsExpired", "HoldReleased"]
    assert decision.events[0].credits == 0  # the emptied lot closes at its end
    assert [(f.credits, f.reason) for f in decision.outcome.forfeited] == [(980, "expired")]
    assert spendable(decision.state) == (980, 0, 0)


def test_a_hold_expiring_after_the_next_cycle_began_gives_its_old_credits_to_nobody():
    account = given(
        renewed("solo", 0),
        reserved(credits=500, at=28.6, expires=29.5),
        renewed("solo", 29, at=28.7),
    )

    decision = when(account, holds_expired(at=29.6))

    assert event_types(decision.events) == ["CreditsExpired", "HoldExpired", "ExpiryChecked"]
    assert spendable(decision.state) == (980, 0, 0)


# 4. An early renewal takes nothing away early ----------------------------------------------


def test_an_early_renewal_keeps_the_old_credits_until_their_cycle_ends():
    account = given(renewed("solo", 0), used("content_analysis", units=50))

    decision = when(account, renewed("solo", 30, at=20))

    assert event_types(decision.events) == ["CycleStarted"]
    assert spendable(decision.state) == (480, 0, 0)
    still_old = when(decision.state, used("content_analysis", at=25))
    assert still_old.outcome.draws[0].lot_id == "cycle:2026-11-01T00:00:00+00:00"


def test_an_early_renewals_credits_become_spendable_at_its_cycle_start_for_its_whole_cycle():
    account = given(
        renewed("solo", 0), used("content_analysis", units=50), renewed("solo", 30, at=20)
    )

    decision = when(account, used("keyword_suggestions", at=30))

    assert event_types(decision.events) == ["CreditsExpired", "ToolUsed"]
    assert (decision.events[0].credits, decision.events[0].expired_at) == (480, day(30))
    assert decision.outcome.draws[0].lot_id == "cycle:2026-12-01T00:00:00+00:00"
    assert spendable(decision.state) == (979, 0, 0)
    then_refused(when(decision.state, used("keyword_suggestions", at=60)), "insufficient_credits")


def test_an_early_renewal_is_not_spendable_before_its_cycle_starts():
    account = given(renewed("solo", 0), used("content_analysis", units=98))

    decision = when(given(renewed("solo", 30, at=20), on=account), used("keyword_suggestions"))

    refusal = then_refused(decision, "insufficient_credits")
    assert refusal.details["subscription"] == 0


# 5. ExpireHolds is decided once ------------------------------------------------------------


def test_expire_holds_is_remembered_so_a_redelivery_is_a_repeat():
    tick = holds_expired(at=2)
    first = when(given(renewed("solo")), tick)

    again = when(first.state, tick)

    assert isinstance(first.outcome, ExpiryChecked)
    assert again.repeat and again.events == () and again.outcome == first.outcome


def test_a_later_command_reusing_an_expire_holds_id_is_answered_as_a_repeat_not_charged():
    first = when(given(renewed("solo")), holds_expired(at=2))

    reuse = when(first.state, used(at=3, command_id=first.outcome.command_id))

    assert reuse.repeat and isinstance(reuse.outcome, ExpiryChecked)
    assert spendable(reuse.state) == (980, 0, 0)


def test_expire_holds_on_an_account_never_opened_is_refused():
    then_refused(when(given(), holds_expired(at=1)), "unknown_account")


# 6. A renewal of a cycle that has already ended --------------------------------------------


def test_a_renewal_of_a_cycle_that_has_already_ended_is_refused_as_stale():
    decision = when(given(), renewed("solo", 0, at=45))

    refusal = then_refused(decision, "stale_cycle")
    assert refusal.message == "that credit cycle has already ended"
    assert balance(decision.state).total == 0


# 7. Holds are bounded ----------------------------------------------------------------------


def test_a_hold_longer_than_the_catalogs_limit_is_refused():
    decision = when(given(renewed("solo", 0)), reserved(credits=980, at=29, expires=29 + 25 / 24))

    refusal = then_refused(decision, "invalid_command")
    assert refusal.details["max_hold_hours"] == 24


def test_a_hold_cannot_pay_for_work_cycles_later():
    account = given(
        renewed("solo", 0),
        reserved(credits=980, at=29, expires=30),
        renewed("solo", 30),
        renewed("solo", 60),
        renewed("solo", 90),
    )

    then_refused(when(account, settled(credits=980, at=100)), "hold_not_open")


# 9. A plan billing did not carry over is recorded ------------------------------------------


def test_a_renewal_ignoring_a_scheduled_downgrade_records_the_plan_that_was_expected():
    account = given(renewed("business", 0), changed_plan("solo", at=5))

    decision = when(account, renewed("business", 30))

    started = decision.outcome
    assert isinstance(started, CycleStarted)
    assert (started.plan, started.credits, started.expected_plan) == ("business", 2200, "solo")
    assert decision.state.pending_plan is None


def test_a_renewal_ignoring_an_upgrade_records_the_plan_that_was_expected():
    account = given(renewed("solo", 0), changed_plan("agency", at=5))

    decision = when(account, renewed("solo", 30))

    assert (decision.outcome.plan, decision.outcome.expected_plan) == ("solo", "agency")


def test_a_renewal_of_the_expected_plan_records_no_mismatch():
    account = given(renewed("business", 0), changed_plan("solo", at=5))

    assert when(account, renewed("solo", 30)).outcome.expected_plan is None


def test_a_plan_upgrade_during_an_early_renewal_tops_up_the_renewed_cycle():
    account = given(renewed("solo", 0), renewed("solo", 30, at=29))

    decision = when(account, ChangePlan(**_ids(29.5), plan="agency"))

    assert decision.outcome.lot_id == "cycle:2026-12-01T00:00:00+00:00"
    assert spendable(decision.state) == (980, 0, 0)  # the current cycle is unchanged
    later = when(decision.state, holds_expired(at=30))
    assert isinstance(later.events[0], CreditsExpired)
    assert spendable(later.state) == (4500, 0, 0)


def test_a_cycle_of_a_full_31_days_is_accepted():
    renewal = CycleRenewed(
        **_ids(0), plan="solo", cycle_start=day(0), cycle_end=day(31), billing_interval="yearly"
    )

    assert spendable(given(renewal)) == (980, 0, 0)


def _ids(at: float) -> dict:
    return {"command_id": f"ids-{at}", "account_id": ACCOUNT, "occurred_at": day(at)}
