"""Granted credits: support and promotions, drawn soonest-expiring first."""

from events.ledger import CreditsGranted
from tests.unit.core.scenario import (
    bought,
    day,
    event_types,
    given,
    granted,
    renewed,
    spendable,
    then_refused,
    used,
    when,
)


def test_a_grant_adds_a_lot_with_its_reason():
    decision = when(given(), granted(100, expires=10, reason="outage apology"))

    assert decision.outcome == CreditsGranted(
        command_id=decision.outcome.command_id,
        occurred_at=day(0),
        lot_id=f"grant:{decision.outcome.command_id}",
        credits=100,
        expires_at=day(10),
        reason="outage apology",
    )
    assert spendable(decision.state) == (0, 0, 100)


def test_granted_credits_expiring_before_the_cycle_end_are_drawn_before_subscription_credits():
    account = given(renewed("solo"), granted(20, expires=10), bought("small"))

    decision = when(account, used(at=1))

    assert [(d.kind, d.credits) for d in decision.outcome.draws] == [
        ("granted", 20),
        ("subscription", 30),
    ]


def test_granted_credits_that_never_expire_are_drawn_with_purchased_ones_oldest_first():
    account = given(
        renewed("solo"),
        granted(30, at=0),
        bought("small", at=0.5),
        used("content_analysis", units=98),
    )

    decision = when(account, used(at=2))

    assert [(d.kind, d.credits) for d in decision.outcome.draws] == [
        ("granted", 30),
        ("purchased", 20),
    ]
    assert spendable(decision.state) == (0, 980, 0)


def test_granted_credits_expire_at_their_expiry():
    account = given(bought("small"), granted(40, expires=5))

    decision = when(account, used("keyword_suggestions", at=5))

    assert event_types(decision.events) == ["CreditsExpired", "ToolUsed"]
    assert decision.events[0].kind == "granted"
    assert spendable(decision.state) == (0, 999, 0)


def test_a_grant_that_would_already_have_expired_is_refused():
    then_refused(when(given(), granted(10, at=3, expires=3)), "invalid_command")
