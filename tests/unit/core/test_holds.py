"""Holds: credits set aside for long-running AI work, settled, released or expired."""

from events.ledger import CreditsReserved, Draw, ExpiryChecked, HoldExpired, HoldSettled
from tests.unit.core.scenario import (
    balance,
    bought,
    day,
    event_types,
    given,
    holds_expired,
    released,
    renewed,
    reserved,
    settled,
    spendable,
    then_refused,
    used,
    when,
)

CYCLE_LOT = "cycle:2026-11-01T00:00:00+00:00"


def test_a_hold_sets_credits_aside_in_drawdown_order():
    account = given(
        renewed("solo"), used("content_analysis", units=95), bought("small", payment_ref="p")
    )

    decision = when(account, reserved("hold-1", units=2, command_id="reserve-1"))

    assert decision.events == (
        CreditsReserved(
            command_id="reserve-1",
            occurred_at=day(1),
            hold_id="hold-1",
            tool="article_generation",
            units=2,
            unit_cost_credits=50,
            catalog_version=1,
            credits=100,
            expires_at=day(2),
            draws=(
                Draw(lot_id=CYCLE_LOT, kind="subscription", credits=30),
                Draw(lot_id="package:p", kind="purchased", credits=70, lot_seq=2),
            ),
        ),
    )
    assert spendable(decision.state) == (0, 930, 0)
    assert balance(decision.state).held == 100


def test_a_hold_can_reserve_a_number_of_credits_instead_of_units():
    decision = when(given(renewed("solo")), reserved(credits=333))

    assert (decision.outcome.credits, decision.outcome.units) == (333, None)
    assert spendable(decision.state) == (647, 0, 0)


def test_a_hold_is_refused_when_credits_fall_short():
    decision = when(given(renewed("solo")), reserved(units=20))

    refusal = then_refused(decision, "insufficient_credits")
    assert refusal.details["required"] == 1000
    assert balance(decision.state).held == 0


def test_settling_charges_the_actual_amount_and_releases_the_rest():
    account = given(
        renewed("solo"), used(units=19), bought("small", payment_ref="p"), reserved(units=2)
    )

    decision = when(account, settled("hold-1", 60))

    assert decision.outcome == HoldSettled(
        command_id=decision.outcome.command_id,
        occurred_at=day(1.5),
        hold_id="hold-1",
        tool="article_generation",
        credits=60,
        draws=(
            Draw(lot_id=CYCLE_LOT, kind="subscription", credits=30),
            Draw(lot_id="package:p", kind="purchased", credits=30, lot_seq=2),
        ),
        returned=(Draw(lot_id="package:p", kind="purchased", credits=40, lot_seq=2),),
        forfeited=(),
    )
    assert spendable(decision.state) == (0, 970, 0)
    assert balance(decision.state).held == 0


def test_settling_more_than_was_reserved_is_refused():
    account = given(renewed("solo"), reserved(units=1))

    refusal = then_refused(when(account, settled("hold-1", 51)), "invalid_amount")

    assert (refusal.details["reserved"], refusal.details["requested"]) == (50, 51)


def test_releasing_a_hold_returns_everything():
    account = given(renewed("solo"), reserved(units=3))

    decision = when(account, released("hold-1"))

    assert [d.credits for d in decision.outcome.returned] == [150]
    assert spendable(decision.state) == (980, 0, 0)


def test_a_closed_hold_can_be_neither_settled_nor_released_again():
    account = given(renewed("solo"), reserved(units=3), released("hold-1"))

    then_refused(when(account, settled("hold-1", 10, at=1.6)), "hold_not_open")
    then_refused(when(account, released("hold-1", at=1.6)), "hold_not_open")


def test_an_unknown_hold_is_refused():
    then_refused(when(given(renewed("solo")), settled("hold-404", 1)), "unknown_hold")


def test_a_hold_id_is_used_once():
    account = given(renewed("solo"), reserved("hold-1"), released("hold-1"))

    then_refused(when(account, reserved("hold-1", at=1.7)), "duplicate_hold")


def test_a_hold_must_expire_after_it_is_made():
    then_refused(when(given(renewed("solo")), reserved(at=2, expires=2)), "invalid_command")


def test_a_hold_past_its_expiry_is_released_the_next_time_the_account_is_touched():
    account = given(renewed("solo"), reserved(units=4, expires=2))

    decision = when(account, used("keyword_suggestions", at=3))

    assert event_types(decision.events) == ["HoldExpired", "ToolUsed"]
    assert spendable(decision.state) == (979, 0, 0)
    then_refused(when(decision.state, settled("hold-1", 10, at=3.1)), "hold_not_open")


def test_expire_holds_releases_every_due_hold_and_no_other():
    account = given(
        renewed("solo"),
        reserved("hold-1", expires=1.5),
        reserved("hold-2", expires=1.95),
        reserved("hold-3", expires=1.6),
    )

    decision = when(account, holds_expired(at=1.8))

    assert [(type(e), getattr(e, "hold_id", None)) for e in decision.events] == [
        (HoldExpired, "hold-1"),
        (HoldExpired, "hold-3"),
        (ExpiryChecked, None),
    ]
    assert isinstance(decision.outcome, ExpiryChecked) and not decision.refused
    assert balance(decision.state).held == 50


def test_a_hold_keeps_its_subscription_credits_past_the_cycle_end_until_it_is_settled():
    account = given(renewed("solo", 0), reserved(units=2, at=29.5, expires=30.5))

    decision = when(account, settled("hold-1", 100, at=30.4))

    assert event_types(decision.events) == ["CreditsExpired", "HoldSettled"]
    assert decision.events[0].credits == 880
    assert decision.outcome.draws == (Draw(lot_id=CYCLE_LOT, kind="subscription", credits=100),)


def test_held_subscription_credits_given_back_after_their_cycle_ended_expire_instead():
    account = given(
        renewed("solo", 0),
        bought("small", payment_ref="p"),
        reserved(units=2, at=29.5, expires=30.5),
    )

    decision = when(account, settled("hold-1", 30, at=30.4))

    assert decision.outcome.returned == ()
    assert [(f.credits, f.reason) for f in decision.outcome.forfeited] == [(70, "expired")]
    assert spendable(decision.state) == (0, 1000, 0)


def test_settling_for_nothing_charges_nothing_and_releases_everything():
    account = given(renewed("solo"), reserved(units=2))

    decision = when(account, settled("hold-1", 0))

    assert decision.outcome.draws == ()
    assert [d.credits for d in decision.outcome.returned] == [100]
    assert spendable(decision.state) == (980, 0, 0)


def test_a_release_of_a_hold_that_expires_in_its_own_catch_up_is_refused_as_expired_not_open():
    account = given(renewed("solo"), reserved("hold-1", units=1, expires=2))

    decision = when(account, released("hold-1", at=3))

    refusal = then_refused(decision, "hold_not_open")
    assert refusal.details["status"] == "expired"
    assert event_types(decision.events) == ["HoldExpired", "CommandRefused"]
