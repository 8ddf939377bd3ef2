"""The questions a reader of the rules asks and the README left open, each answered by today's
core (docs/rules.md, "Questions the rules answer", links each answer to its test here)."""

import pytest

from events.commands import BuyPackage, Command, GrantCredits, RefundPackage, RestorePackage
from events.ledger import (
    CreditsExpired,
    CreditsReserved,
    CycleStarted,
    HoldExpired,
    HoldSettled,
    PaymentReversed,
    PlanDowngradeScheduled,
    PlanUpgraded,
    UsageRefunded,
)
from services.ledger.core import Account
from tests.unit.core.scenario import (
    ACCOUNT,
    changed_plan,
    day,
    event_types,
    given,
    granted,
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

CYCLE_0 = "cycle:2026-11-01T00:00:00+00:00"


# A hold asked for longer than max_hold_hours


def test_a_hold_asked_for_longer_than_max_hold_hours_is_refused_not_shortened():
    account = given(renewed("solo"))

    decision = when(account, reserved(at=1, expires=2.01))  # 24 h 14 min

    refusal = then_refused(decision, "invalid_command")
    assert refusal.details["max_hold_hours"] == 24
    assert spendable(decision.state) == (980, 0, 0)


def test_a_hold_of_exactly_max_hold_hours_is_accepted():
    decision = when(given(renewed("solo")), reserved(at=1, expires=2))

    assert isinstance(decision.outcome, CreditsReserved)
    assert decision.outcome.expires_at == day(2)


# The expired_at of a cycle ended by a late renewal


def test_a_renewal_arriving_after_the_old_cycle_ended_expires_it_at_its_own_end():
    account = given(renewed("solo", start=0), used(at=1))

    decision = when(account, renewed("solo", start=30, at=32))

    expired, started = decision.events
    assert isinstance(expired, CreditsExpired) and isinstance(started, CycleStarted)
    assert (expired.lot_id, expired.credits, expired.expired_at) == (CYCLE_0, 930, day(30))
    assert expired.occurred_at == day(32)  # recorded when the renewal came, dated at the end


def test_a_renewal_arriving_after_its_cycle_started_expires_the_old_cycle_at_the_new_start():
    account = given(renewed("solo", start=0), used(at=21))  # the old cycle paid on day 21

    decision = when(account, renewed("solo", start=20, at=22))

    expired, _ = decision.events
    assert isinstance(expired, CreditsExpired)
    assert (expired.lot_id, expired.credits) == (CYCLE_0, 930)
    assert expired.expired_at == day(20)  # the new cycle's start, before the event itself
    assert expired.occurred_at == day(22)


# A downgrade while an early renewal waits


def test_a_downgrade_while_an_early_renewal_waits_is_scheduled_for_the_renewed_cycles_end():
    account = given(renewed("business", start=0), renewed("business", start=30, at=20))

    decision = when(account, changed_plan("solo", at=25))

    assert decision.events == (
        PlanDowngradeScheduled(
            command_id=decision.outcome.command_id,
            occurred_at=day(25),
            from_plan="business",
            to_plan="solo",
            effective_at=day(60),
        ),
    )
    assert spendable(decision.state) == (2200, 0, 0)  # the old cycle, untouched


def test_an_upgrade_while_an_early_renewal_waits_tops_up_the_renewed_cycle():
    account = given(renewed("solo", start=0), renewed("solo", start=30, at=20))

    decision = when(account, changed_plan("business", at=25))

    assert isinstance(decision.outcome, PlanUpgraded)
    assert decision.outcome.lot_id == "cycle:2026-12-01T00:00:00+00:00"
    assert spendable(decision.state) == (980, 0, 0)  # the old cycle is not topped up
    assert spendable(when(decision.state, used(at=31)).state) == (2150, 0, 0)


# Which commands need an opened account


def _payment_refunded(at: float) -> RefundPackage:
    return RefundPackage(
        command_id="refund-1", account_id=ACCOUNT, occurred_at=day(at), payment_ref="p"
    )


def _dispute_won(at: float) -> RestorePackage:
    return RestorePackage(
        command_id="won-1", account_id=ACCOUNT, occurred_at=day(at), payment_ref="p"
    )


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (used(at=1), "unknown_account"),
        (reserved(at=1), "unknown_account"),
        (holds_expired(at=1), "unknown_account"),
        (settled(at=1), "unknown_hold"),
        (released(at=1), "unknown_hold"),
        (refunded_use("use-1", at=1), "unknown_usage"),
        (changed_plan("business", at=1), "no_subscription"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Command) else value,
)
def test_a_command_that_acts_on_credits_is_refused_on_an_account_never_opened(command, code):
    then_refused(when(Account(), command), code)


def test_a_payment_refunded_before_any_purchase_is_recorded_on_an_account_never_opened():
    decision = when(Account(), _payment_refunded(at=1))

    assert event_types(decision.events) == ["PaymentReversed"]
    assert isinstance(decision.outcome, PaymentReversed)
    assert not decision.state.opened


def test_a_dispute_won_before_any_purchase_restores_nothing_on_an_account_never_opened():
    decision = when(Account(), _dispute_won(at=1))

    assert event_types(decision.events) == ["PackageRestored"]
    assert decision.outcome.credits == 0
    assert not decision.state.opened


@pytest.mark.parametrize(
    "command",
    [
        renewed("solo"),
        BuyPackage(
            command_id="buy-1",
            account_id=ACCOUNT,
            occurred_at=day(0),
            package="small",
            payment_ref="p",
        ),
        GrantCredits(
            command_id="grant-1",
            account_id=ACCOUNT,
            occurred_at=day(0),
            credits=10,
            reason="welcome",
        ),
    ],
    ids=lambda command: type(command).__name__,
)
def test_a_renewal_a_purchase_or_a_grant_opens_an_account(command):
    assert when(Account(), command).state.opened


# Grants and holds whose expires_at has passed


@pytest.mark.parametrize("expires", [0.5, 1])
def test_a_grant_whose_expires_at_has_passed_is_refused(expires):
    decision = when(given(renewed("solo")), granted(10, at=1, expires=expires))

    then_refused(decision, "invalid_command")


@pytest.mark.parametrize("expires", [0.5, 1])
def test_a_hold_whose_expires_at_has_passed_is_refused(expires):
    then_refused(when(given(renewed("solo")), reserved(at=1, expires=expires)), "invalid_command")


def test_a_grant_whose_expires_at_passes_expires_at_that_instant_on_the_next_command():
    account = given(renewed("solo"), granted(10, at=1, expires=3))

    decision = when(account, used("keyword_suggestions", at=5))

    expired = decision.events[0]
    assert isinstance(expired, CreditsExpired)
    assert (expired.kind, expired.credits, expired.expired_at) == ("granted", 10, day(3))
    assert decision.outcome.draws[0].kind == "subscription"


def test_a_hold_whose_expires_at_passes_gives_its_credits_back_on_the_next_command():
    account = given(renewed("solo"), reserved(at=1, expires=2))

    decision = when(account, used("keyword_suggestions", at=3))

    expired = decision.events[0]
    assert isinstance(expired, HoldExpired)
    assert (expired.hold_id, expired.occurred_at) == ("hold-1", day(3))
    assert [draw.credits for draw in expired.returned] == [50]
    assert spendable(decision.state) == (979, 0, 0)


# The tie-break between lots with the same expiry


def test_lots_that_expire_at_the_same_instant_are_drawn_oldest_first():
    cycle_first = given(renewed("solo"), granted(100, at=0, expires=30))
    grant_first = given(granted(100, at=0, expires=30), renewed("solo"))

    by_cycle = when(cycle_first, used(at=1)).outcome.draws
    by_grant = when(grant_first, used(at=1)).outcome.draws

    assert [(d.kind, d.credits) for d in by_cycle] == [("subscription", 50)]
    assert [(d.kind, d.credits) for d in by_grant] == [("granted", 50)]


def test_two_grants_that_expire_at_the_same_instant_are_drawn_oldest_first():
    account = given(granted(30, at=0, expires=30), granted(100, at=0.5, expires=30))

    draws = when(account, used(at=1)).outcome.draws

    assert [d.credits for d in draws] == [30, 20]
    assert [d.kind for d in draws] == ["granted", "granted"]


# A refund of a settlement of 0 credits


def test_a_refund_of_a_settlement_of_0_credits_is_recorded_and_gives_back_nothing():
    account = given(
        renewed("solo"), reserved(at=1, expires=2), settled(credits=0, command_id="settle-0")
    )
    assert spendable(account) == (980, 0, 0)

    decision = when(account, refunded_use("settle-0", at=2, command_id="refund-0"))

    assert decision.events == (
        UsageRefunded(
            command_id="refund-0",
            occurred_at=day(2),
            of_command_id="settle-0",
            credits=0,
            returned=(),
            forfeited=(),
        ),
    )
    assert spendable(decision.state) == (980, 0, 0)
    then_refused(when(decision.state, refunded_use("settle-0", at=3)), "already_refunded")


def test_a_settlement_of_0_credits_charges_nothing_and_gives_everything_back():
    account = given(renewed("solo"), reserved(at=1, expires=2))

    decision = when(account, settled(credits=0, at=1.5))

    assert isinstance(decision.outcome, HoldSettled)
    assert (decision.outcome.credits, decision.outcome.draws) == (0, ())
    assert [d.credits for d in decision.outcome.returned] == [50]
