"""Automatic top-ups: the decision that leaves the spendable balance below the threshold asks
for exactly one package, in the same decision; one request at a time, a monthly cap, retries
of a declined card, then the rule turns off until a new card is saved."""

from datetime import timedelta

from events.ledger import (
    AutoTopUpConfigured,
    AutoTopUpDisabled,
    PackagePurchased,
    TopUpFailed,
    TopUpRequested,
)
from services.ledger.core import balance
from services.ledger.core.decide import TOP_UP_BACKOFF_S, top_up_request_id
from services.ledger.snapshots import from_document, to_document
from tests.unit.core.scenario import (
    ACCOUNT,
    auto_top_up,
    auto_top_up_off,
    card_saved,
    day,
    event_types,
    given,
    renewed,
    reserved,
    then_refused,
    top_up_failed,
    top_up_paid,
    used,
    when,
)


def on_at_900():
    """A solo account (980 credits) with a saved card and a rule: below 900, buy small."""
    return given(renewed(), card_saved(), auto_top_up(900, "small", max_per_month=2))


def crossed(state, *, at: float = 1):
    """Spend until a use leaves the balance below 900; the decision of that use."""
    while True:
        decision = when(state, used(at=at))
        if decision.state.top_up.in_flight is not None or decision.refused:
            return decision
        state = decision.state


def test_a_use_that_leaves_the_balance_below_the_threshold_requests_one_top_up_in_its_decision():
    state = given(used(at=1), on=on_at_900())  # 930: not below 900

    decision = when(state, used(at=1, command_id="use-crossing"))

    assert event_types(decision.events) == ["ToolUsed", "TopUpRequested"]
    assert decision.outcome == decision.events[0]  # the use is answered, not the request
    assert decision.events[1] == TopUpRequested(
        command_id="use-crossing",
        occurred_at=day(1),
        request_id=top_up_request_id(ACCOUNT, "use-crossing"),
        package="small",
        credits=1000,
        price_cents=5000,
        currency="USD",
        payment_method="pm_card_visa",
        attempt=1,
        not_before=day(1),
        balance_credits=880,
        threshold_credits=900,
    )
    assert decision.state.top_up.in_flight == decision.events[1].request_id


def test_a_use_that_leaves_the_balance_at_the_threshold_requests_nothing():
    state = given(renewed(), card_saved(), auto_top_up(880))

    decision = when(state, used(units=2))

    assert event_types(decision.events) == ["ToolUsed"]
    assert balance(decision.state).total == 880


def test_uses_below_the_threshold_while_a_top_up_is_in_flight_request_nothing_more():
    first = crossed(on_at_900())

    later = [when(first.state, used(at=1.1)), when(first.state, reserved(credits=10, at=1.1))]

    assert [event_types(d.events) for d in later] == [["ToolUsed"], ["CreditsReserved"]]


def test_a_repeated_command_that_crossed_asks_for_nothing_again():
    state = given(used(at=1), on=on_at_900())
    first = when(state, used(at=1, command_id="use-crossing"))

    repeat = when(first.state, used(at=1, command_id="use-crossing"))

    assert repeat.repeat and repeat.events == ()


def test_the_package_bought_for_the_request_clears_it_and_the_next_crossing_asks_again():
    first = crossed(on_at_900())
    request = first.events[-1]

    arrived = when(first.state, top_up_paid(request.request_id, at=2))
    again = when(arrived.state, used(units=20, at=3))  # 1880 - 1000 = 880: below again

    assert isinstance(arrived.outcome, PackagePurchased)
    assert arrived.outcome.top_up == request.request_id
    assert arrived.state.top_up.in_flight is None
    assert event_types(again.events) == ["ToolUsed", "TopUpRequested"]
    assert again.events[-1].request_id != request.request_id


def test_a_purchase_that_names_another_request_leaves_the_one_in_flight():
    first = crossed(on_at_900())

    other = when(first.state, top_up_paid("topup-someone-else", at=2))

    assert other.state.top_up.in_flight == first.state.top_up.in_flight


def test_a_purchase_that_does_not_lift_the_balance_to_the_threshold_asks_for_the_next():
    configured = when(given(renewed(), card_saved()), auto_top_up(2500, max_per_month=3))
    request = configured.events[-1]

    arrived = when(configured.state, top_up_paid(request.request_id, at=2))

    assert event_types(arrived.events) == ["PackagePurchased", "TopUpRequested"]  # 1980 < 2500


def test_the_monthly_cap_stops_requests_until_the_next_calendar_month():
    state = given(renewed(), card_saved())
    decision = when(state, auto_top_up(5000, max_per_month=2))  # 980: the first request
    for n in range(2):  # each package still leaves the balance below 5000
        request = decision.events[-1]
        assert isinstance(request, TopUpRequested), decision.events
        decision = when(decision.state, top_up_paid(request.request_id, at=1 + n))
    state = decision.state  # 2980, the second package in, the cap reached

    capped = when(state, used(at=20))
    next_month = when(capped.state, used(at=30))  # 1 December

    assert event_types(decision.events) == ["PackagePurchased"]
    assert event_types(capped.events) == ["ToolUsed"]
    assert state.top_up.requested == 2 and state.top_up.month == "2026-11"
    assert event_types(next_month.events)[-1] == "TopUpRequested"
    assert next_month.state.top_up.month == "2026-12" and next_month.state.top_up.requested == 1


def test_configuring_without_a_saved_card_is_refused_no_payment_method():
    decision = when(given(renewed()), auto_top_up(900))

    then_refused(decision, "no_payment_method")


def test_configuring_a_package_the_catalog_does_not_sell_is_refused():
    decision = when(given(renewed(), card_saved()), auto_top_up(900, "jumbo"))

    then_refused(decision, "unknown_package")


def test_configuring_below_the_threshold_asks_for_a_top_up_at_once():
    decision = when(given(renewed(), card_saved()), auto_top_up(1000))

    assert event_types(decision.events) == ["AutoTopUpConfigured", "TopUpRequested"]
    assert isinstance(decision.outcome, AutoTopUpConfigured)


def test_held_credits_are_not_spendable_so_a_hold_can_cross_the_threshold():
    decision = when(on_at_900(), reserved(credits=100, at=1))

    assert event_types(decision.events) == ["CreditsReserved", "TopUpRequested"]
    assert decision.events[-1].balance_credits == 880


def test_a_refused_use_asks_for_nothing():
    state = given(renewed(), card_saved(), auto_top_up(900, max_per_month=1))
    first = crossed(state)
    failed = when(first.state, top_up_failed(first.events[-1].request_id, at=1))
    for _ in range(2):
        failed = when(failed.state, top_up_failed(failed.events[-1].request_id, at=1))
    drained = given(used(units=17, at=2), on=failed.state)  # off now: nothing is asked

    refused = when(drained, used(units=10, at=2))

    then_refused(refused, "insufficient_credits")


def test_a_declined_charge_is_retried_after_its_backoff_then_the_third_turns_the_rule_off():
    first = crossed(on_at_900())
    attempts = [first.events[-1]]
    decisions = []
    state = first.state
    for n in range(3):
        decision = when(state, top_up_failed(attempts[-1].request_id, "card_declined", at=1 + n))
        decisions.append(decision)
        state = decision.state
        if n < 2:
            attempts.append(decision.events[-1])

    assert [event_types(d.events) for d in decisions] == [
        ["TopUpFailed", "TopUpRequested"],
        ["TopUpFailed", "TopUpRequested"],
        ["AutoTopUpDisabled", "TopUpFailed"],
    ]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.not_before - a.occurred_at for a in attempts] == [
        timedelta(seconds=s) for s in TOP_UP_BACKOFF_S
    ]
    assert decisions[-1].events[0] == AutoTopUpDisabled(
        command_id=decisions[-1].outcome.command_id, occurred_at=day(3), reason="card_declined"
    )
    assert isinstance(decisions[-1].outcome, TopUpFailed) and decisions[-1].outcome.attempt == 3
    assert state.top_up.in_flight is None and not state.top_up.on
    assert state.top_up.requested == 1  # retries are not new charges for the month's cap


def test_after_the_rule_turned_off_for_declines_it_needs_a_new_card():
    first = crossed(on_at_900())
    state = first.state
    request = first.events[-1].request_id
    for n in range(3):
        decision = when(state, top_up_failed(request, at=1 + n))
        state = decision.state
        request = decision.events[-1].request_id

    refused = when(state, auto_top_up(900, at=5))
    after_new_card = when(given(card_saved("0005", ref="pm_new", at=5), on=state), auto_top_up(900))

    then_refused(refused, "no_payment_method")
    assert event_types(after_new_card.events) == ["AutoTopUpConfigured", "TopUpRequested"]
    assert after_new_card.events[-1].payment_method == "pm_new"


def test_a_failure_of_a_request_that_is_not_in_flight_is_refused():
    first = crossed(on_at_900())
    arrived = when(first.state, top_up_paid(first.events[-1].request_id, at=2))

    late = when(arrived.state, top_up_failed(first.events[-1].request_id, at=2))

    then_refused(late, "top_up_not_in_flight")


def test_turned_off_no_top_up_is_asked_and_the_one_in_flight_still_arrives():
    first = crossed(on_at_900())

    off = when(first.state, auto_top_up_off(at=1.5))
    spent = when(off.state, used(at=1.6))
    arrived = when(spent.state, top_up_paid(first.events[-1].request_id, at=2))

    assert event_types(off.events) == ["AutoTopUpDisabled"]
    assert event_types(spent.events) == ["ToolUsed"]
    assert event_types(arrived.events) == ["PackagePurchased"]
    assert arrived.state.top_up.in_flight is None


def test_an_accounts_top_ups_survive_its_snapshot_and_an_account_without_them_stores_none():
    state = crossed(on_at_900()).state

    document = to_document(state)

    assert from_document(document) == state
    assert "top_up" not in to_document(given(renewed()))
