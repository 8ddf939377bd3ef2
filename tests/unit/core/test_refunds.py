"""Refunding a use: exactly what it took goes back where it came from, once."""

from events.ledger import Draw, UsageRefunded
from tests.unit.core.scenario import (
    bought,
    day,
    given,
    refunded_use,
    renewed,
    reserved,
    settled,
    spendable,
    then_refused,
    used,
    when,
)

CYCLE_LOT = "cycle:2026-11-01T00:00:00+00:00"


def test_a_refund_returns_exactly_what_the_use_took_to_the_lots_it_came_from():
    account = given(
        renewed("solo"),
        used("content_analysis", units=95),
        bought("small", payment_ref="p"),
        used("article_generation", command_id="use-1"),
    )

    decision = when(account, refunded_use("use-1", command_id="refund-1"))

    assert decision.events == (
        UsageRefunded(
            command_id="refund-1",
            occurred_at=day(2),
            of_command_id="use-1",
            credits=50,
            returned=(
                Draw(lot_id=CYCLE_LOT, kind="subscription", credits=30),
                Draw(lot_id="package:p", kind="purchased", credits=20, lot_seq=2),
            ),
            forfeited=(),
        ),
    )
    assert spendable(decision.state) == (30, 1000, 0)


def test_a_use_is_refunded_at_most_once():
    account = given(renewed("solo"), used(command_id="use-1"), refunded_use("use-1"))

    refusal = then_refused(when(account, refunded_use("use-1", at=3)), "already_refunded")

    assert refusal.details["of_command_id"] == "use-1"
    assert spendable(account) == (980, 0, 0)


def test_refunded_subscription_credits_whose_cycle_ended_are_recorded_as_expired():
    account = given(renewed("solo", 0), used(command_id="use-1", at=29), renewed("solo", 30))

    decision = when(account, refunded_use("use-1", at=31))

    assert decision.outcome.returned == ()
    assert [(f.lot_id, f.credits, f.reason) for f in decision.outcome.forfeited] == [
        (CYCLE_LOT, 50, "expired")
    ]
    assert spendable(decision.state) == (980, 0, 0)


def test_a_settled_hold_can_be_refunded():
    account = given(
        renewed("solo"), reserved(units=2), settled("hold-1", 70, command_id="settle-1")
    )

    decision = when(account, refunded_use("settle-1"))

    assert decision.outcome.credits == 70
    assert spendable(decision.state) == (980, 0, 0)


def test_refunding_something_that_was_not_a_use_is_refused():
    account = given(bought("small", command_id="buy-1"))

    then_refused(when(account, refunded_use("buy-1")), "unknown_usage")
    then_refused(when(account, refunded_use("never-happened")), "unknown_usage")


def test_a_refused_use_cannot_be_refunded():
    account = given(renewed("solo"))
    refused = when(account, used(units=100, command_id="use-1"))

    then_refused(when(refused.state, refunded_use("use-1")), "unknown_usage")
