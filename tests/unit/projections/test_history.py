"""The auditor's view of an account: what each event did, and the balance at any instant."""

from projections import history
from services.ledger.core import Account
from services.ledger.core.past import Remembered
from tests.unit.core.scenario import (
    CATALOG,
    auto_top_up,
    bought,
    card_saved,
    day,
    handle,
    renewed,
    reserved,
    top_up_paid,
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


NAMES = history.Names.of(CATALOG)


def test_given_the_catalogs_names_a_use_reads_as_people_read_the_tool():
    log = events_of(renewed("solo"), used("keyword_suggestions", units=2, at=1))

    table = history.rows(log, NAMES)

    assert table[1].what == "Keyword suggestions × 2"
    assert table[1].item == "keyword_suggestions"  # the id stays, for filters and exports


def test_given_the_catalogs_names_purchases_plans_and_holds_are_named_as_the_catalog_names_them():
    log = events_of(renewed("solo"), bought("small", at=1), reserved(units=2, at=3, expires=4))

    said = [row.what for row in history.rows(log, NAMES)]

    assert said[0].startswith("Solo plan: 980 credits until ")
    assert said[1:] == ["Bought Small Package", "Full article generation: 100 set aside"]


def test_without_names_the_auditors_text_keeps_ids_and_unit_costs():
    log = events_of(renewed("solo"), used("keyword_suggestions", units=2, at=1))

    assert history.rows(log)[1].what == "keyword_suggestions x2 at 1: -2"


def test_a_tool_the_catalog_no_longer_names_is_shown_by_its_id():
    log = events_of(renewed("solo"), used("keyword_suggestions", units=3, at=1))

    said = history.rows(log, history.Names(tools={}))[1].what

    assert said == "keyword_suggestions × 3"


def test_an_automatic_top_up_reads_as_saved_on_asked_then_bought_by_the_catalogs_names():
    log = events_of(
        renewed("solo"),
        card_saved(),
        auto_top_up(950),
        used(at=1, command_id="use-crossing"),
    )
    request = log[-1].request_id
    log = events_of(
        renewed("solo"),
        card_saved(),
        auto_top_up(950),
        used(at=1, command_id="use-crossing"),
        top_up_paid(request, at=2),
    )

    said = [row.what for row in history.rows(log, NAMES)]

    assert said[1:] == [
        "Card ending 4242 saved for automatic top-ups",
        "Automatic top-up on: Small Package below 950 credits",
        "Full article generation × 1",
        "Automatic top-up: Small Package asked at 930 credits",
        "Bought Small Package (automatic top-up)",
    ]
