"""The balance view is the core's own fold: after any command sequence its figures, plan and
cycle are exactly the core's, and it keeps only what a balance can still need."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings

from events.balances import BalanceUpdated
from projections.balance import FORMAT, BalanceView, StreamGap, dump, fold, load
from services.ledger import snapshots
from services.ledger.core import balance, ends, started
from tests.unit.core.scenario import ACCOUNT, bought, day, renewed, reserved, settled, used
from tests.unit.core.test_properties import commands_from, history
from tests.unit.projections.history import Rec, decided


def folded(*commands) -> BalanceView:
    view = BalanceView(ACCOUNT)
    for _, recorded in decided(commands):
        for r in recorded:
            view = fold(view, r)
    return view


@settings(max_examples=300, deadline=None)
@given(history)
def test_folding_the_events_agrees_with_the_core_after_every_command(steps):
    view = BalanceView(ACCOUNT)
    for decision, recorded in decided(commands_from(steps)):
        for r in recorded:
            view = fold(view, r)
        state = decision.state

        assert view.figures == balance(state)
        assert view.version == state.version
        core = (state.plan, state.plan_credits, state.billing_interval, state.cycle_end)
        assert (view.account.plan, view.account.plan_credits) == core[:2]
        assert (view.account.billing_interval, view.account.cycle_end) == core[2:]
        assert view.account.pending_plan == state.pending_plan
        assert view.subscription_expires_at == BalanceView(ACCOUNT, state).subscription_expires_at
        assert view.subscription_expires_at == _expiry_by_the_cores_ends(state)
        assert load(ACCOUNT, dump(view)) == view
        assert orjson.loads(dump(view)) == _as_the_ledger_encodes(view)


def _as_the_ledger_encodes(view: BalanceView) -> dict[str, object]:
    """The stored view as the ledger's own account encoding would write it."""
    moment = None if view.updated_at is None else view.updated_at.isoformat()
    header = {"format": FORMAT, "updated_at": moment, "books": None}
    return orjson.loads(orjson.dumps(header | snapshots.to_document(view.account)))


def _expiry_by_the_cores_ends(state):
    """The first end (``ends``: a cycle's lot ends at the next cycle's start) of the spendable
    subscription lots: what the view's shortcut for a single open cycle must agree with."""
    end = ends(state)
    spendable = [
        end[lot.lot_id]
        for lot in state.lots.values()
        if lot.kind == "subscription" and lot.remaining and started(lot, state.as_of)
    ]
    return min((at for at in spendable if at is not None), default=None)


def test_the_view_carries_the_balance_plan_cycle_and_the_time_of_the_last_event():
    view = folded(renewed("solo", 0), bought("small", at=1), used("article_generation", at=2))

    message = view.message()

    assert (message.subscription, message.purchased, message.total) == (930, 1000, 1930)
    assert (message.plan, message.plan_credits, message.billing_interval) == (
        "solo",
        980,
        "monthly",
    )
    assert message.cycle_end == message.subscription_expires_at == day(30)
    assert (message.version, message.updated_at) == (3, day(2))


def test_subscription_credits_have_no_expiry_once_they_are_spent():
    view = folded(renewed("solo", 0), used("content_analysis", units=98))

    assert view.figures.subscription == 0
    assert view.subscription_expires_at is None
    assert view.account.cycle_end == day(30)


def test_closed_holds_and_expired_lots_are_not_kept():
    view = folded(
        renewed("solo", 0),
        reserved("h1", at=1, expires=3),
        settled("h1", 20, at=2),
        renewed("solo", 30),
    )

    assert list(view.account.holds) == []
    assert [lot.kind for lot in view.account.lots.values()] == ["subscription"]
    assert view.figures.total == 980


def test_an_event_already_folded_changes_nothing():
    [(_, recorded)] = decided([renewed("solo", 0)])
    view = fold(BalanceView(ACCOUNT), recorded[0])

    assert fold(view, recorded[0]) is view


def test_a_skipped_version_stops_the_fold():
    [(_, first), (_, second)] = decided([renewed("solo", 0), used(at=1)])
    view = fold(BalanceView(ACCOUNT), first[0])

    with pytest.raises(StreamGap):
        fold(view, Rec(ACCOUNT, 3, second[0].event))


@pytest.mark.parametrize("text", ["{", '{"format": 2}', '{"format": 1}', "[]"])
def test_an_unreadable_stored_view_is_a_value_error(text):
    with pytest.raises(ValueError):
        load(ACCOUNT, text)


@settings(max_examples=100, deadline=None)
@given(history)
def test_every_balance_message_built_as_trusted_is_what_the_model_would_validate(steps):
    view = BalanceView(ACCOUNT)
    for _, recorded in decided(commands_from(steps)):
        for r in recorded:
            view = fold(view, r)
            message = view.message()
            validated = BalanceUpdated.model_validate(message.model_dump())
            assert message == validated
            assert message.model_dump_json() == validated.model_dump_json()
