"""The auditor's view of an account: what each event did, and the balance at any instant."""

from projections import history
from services.ledger.core import Account
from services.ledger.core.past import Remembered
from tests.unit.core.scenario import (
    CATALOG,
    bought,
    day,
    handle,
    renewed,
    reserved,
    used,
)


def events_of(*commands):
    state, log, past = Account(), [], Remembered()
    for command in commands:
        decision = handle(command, state, CATALOG, past)
        past.remember(decision.events)
        state, log = decision.state, log + list(decision.events)
    return log


def test_every_event_shows_its_change_per_kind_and_the_running_balance():
    log = events_of(
        renewed("solo"),
        used("content_analysis", units=95),
        bought("small"),
        used("article_generation", at=2),
        reserved(units=2, at=3, expires=4),
    )

    table = history.rows(log)

    assert [
        (r.event, r.subscription_change, r.purchased_change, r.held_change, r.total) for r in table
    ] == [
        ("CycleStarted", 980, 0, 0, 980),
        ("ToolUsed", -950, 0, 0, 30),
        ("PackagePurchased", 0, 1000, 0, 1030),
        ("ToolUsed", -30, -20, 0, 980),
        ("CreditsReserved", 0, -100, 100, 880),
    ]
    assert table[3].what == "article_generation x1 at 50: -50"
    assert table[3].item == "article_generation"
    assert [r.version for r in table] == [1, 2, 3, 4, 5]


def test_the_balance_at_an_instant_counts_what_had_expired_by_then_even_if_unrecorded():
    log = events_of(renewed("solo", 0), bought("small", at=1), used(at=2))

    state, during = history.at(log, day(10))
    _, after_cycle = history.at(log, day(31))
    _, before_anything = history.at(log, day(-1))

    assert (during.subscription, during.purchased, state.version) == (930, 1000, 3)
    assert (after_cycle.subscription, after_cycle.purchased) == (0, 1000)
    assert before_anything.total == 0
