"""Time from producers is bounded: a command stamped further ahead of its arrival at the broker
than producers' clocks may be is refused ``clock_skew`` and moves nothing, not even the
account's time."""

from datetime import UTC, datetime, timedelta

from services.ledger.core import Arrival, handle
from tests.unit.core.scenario import (
    CATALOG,
    bought,
    day,
    given,
    past_of,
    renewed,
    spendable,
    then_refused,
    used,
)

YEAR_2199 = datetime(2199, 1, 1, tzinfo=UTC)


def arrived(at: float, max_skew_s: int = 300) -> Arrival:
    return Arrival(day(at), max_skew_s)


def test_a_use_stamped_in_2199_is_refused_and_the_account_keeps_its_time_and_credits():
    account = given(renewed("solo", 0), bought("small", at=0.5))
    from_2199 = used(at=1).model_copy(update={"occurred_at": YEAR_2199})

    decision = handle(from_2199, account, CATALOG, past_of(account), arrived(1))

    refusal = then_refused(decision, "clock_skew")
    assert refusal.details["occurred_at"] == "2199-01-01T00:00:00+00:00"
    assert refusal.details["max_skew_s"] == 300
    assert decision.events == (refusal,)  # no expiry of 2199 caught up
    assert decision.state.as_of == account.as_of == day(0.5)
    assert spendable(decision.state) == spendable(account) == (980, 1000, 0)


def test_after_a_command_from_2199_was_refused_the_account_goes_on_as_before():
    account = given(renewed("solo", 0))
    from_2199 = used(at=1).model_copy(update={"occurred_at": YEAR_2199})
    refused = handle(from_2199, account, CATALOG, past_of(account), arrived(1)).state

    decision = handle(used(at=2), refused, CATALOG, past_of(account), arrived(2))

    assert not decision.refused
    assert spendable(decision.state) == (930, 0, 0)


def test_a_command_stamped_within_the_allowed_skew_is_decided_at_its_own_time():
    account = given(renewed("solo", 0))
    a_little_ahead = used(at=1).model_copy(update={"occurred_at": day(1) + timedelta(seconds=299)})

    decision = handle(a_little_ahead, account, CATALOG, past_of(account), arrived(1))

    assert not decision.refused
    assert decision.state.as_of == day(1) + timedelta(seconds=299)


def test_a_command_from_2199_on_an_account_with_no_events_is_recorded_at_its_arrival():
    from_2199 = bought(at=1).model_copy(update={"occurred_at": YEAR_2199})

    decision = handle(from_2199, given(), CATALOG, arrival=arrived(1))

    then_refused(decision, "clock_skew")
    assert decision.state.as_of == day(1)


def test_a_repeat_of_a_decided_command_is_answered_with_its_first_outcome_whatever_its_stamp():
    first = used(at=1, command_id="use-1")
    account = given(renewed("solo", 0), first)
    again = first.model_copy(update={"occurred_at": YEAR_2199})

    decision = handle(again, account, CATALOG, past_of(account), arrived(1))

    assert decision.repeat and decision.outcome.type == "ToolUsed"
