"""Using an AI tool: subscription credits first, then purchased; all or nothing."""

from events.ledger import Draw, ToolUsed
from tests.unit.core.scenario import bought, given, renewed, spendable, then_refused, used, when


def test_a_use_is_paid_from_subscription_credits_first():
    account = given(renewed("solo"), bought("small"))

    decision = when(account, used("article_generation", command_id="use-1"))

    assert decision.events == (
        ToolUsed(
            command_id="use-1",
            occurred_at=decision.outcome.occurred_at,
            tool="article_generation",
            units=1,
            unit_cost_credits=50,
            catalog_version=1,
            credits=50,
            draws=(
                Draw(lot_id="cycle:2026-11-01T00:00:00+00:00", kind="subscription", credits=50),
            ),
        ),
    )
    assert spendable(decision.state) == (930, 1000, 0)


def test_solo_with_30_subscription_and_1000_purchased_using_a_50_credit_tool_leaves_0_and_980():
    account = given(renewed("solo"), used("content_analysis", units=95), bought("small"))
    assert spendable(account) == (30, 1000, 0)

    decision = when(account, used("article_generation"))

    assert [(d.kind, d.credits) for d in decision.outcome.draws] == [
        ("subscription", 30),
        ("purchased", 20),
    ]
    assert spendable(decision.state) == (0, 980, 0)


def test_use_is_refused_when_subscription_and_purchased_together_fall_short():
    account = given(
        renewed("solo", start=0),
        bought("small"),
        used("keyword_suggestions", units=1950),
        renewed("solo", start=30),
        used("content_analysis", units=97, at=31),
    )
    assert spendable(account) == (10, 30, 0)

    decision = when(account, used("article_generation", at=32))

    refusal = then_refused(decision, "insufficient_credits")
    assert refusal.message == "Insufficient Credits"
    assert refusal.details == {
        "required": 50,
        "available": 40,
        "subscription": 10,
        "purchased": 30,
        "granted": 0,
    }
    assert spendable(decision.state) == (10, 30, 0)


def test_a_use_costs_the_unit_cost_times_units_and_records_the_catalog_version():
    decision = when(given(renewed("agency")), used("image_generation", units=3))

    assert (decision.outcome.unit_cost_credits, decision.outcome.credits) == (40, 120)
    assert decision.outcome.catalog_version == 1
    assert spendable(decision.state) == (4380, 0, 0)


def test_an_unknown_tool_is_refused():
    decision = when(given(renewed("solo")), used("mind_reading"))

    refusal = then_refused(decision, "unknown_tool")
    assert refusal.details == {"tool": "mind_reading"}
    assert spendable(decision.state) == (980, 0, 0)


def test_a_use_on_an_account_that_never_had_credits_is_refused_as_unknown_account():
    decision = when(given(), used("keyword_suggestions"))

    then_refused(decision, "unknown_account")


def test_purchased_lots_are_drawn_oldest_first():
    account = given(
        bought("small", at=0, payment_ref="first"), bought("medium", at=1, payment_ref="second")
    )

    decision = when(account, used("content_analysis", units=101, at=2))

    assert [(d.lot_id, d.credits) for d in decision.outcome.draws] == [
        ("package:first", 1000),
        ("package:second", 10),
    ]


def test_a_repeated_use_returns_the_first_outcome_and_changes_nothing():
    first = when(given(renewed("solo")), used(command_id="use-1"))

    repeat = when(first.state, used(command_id="use-1", at=3))

    assert repeat.repeat and repeat.events == ()
    assert repeat.outcome == first.outcome
    assert repeat.state is first.state


def test_a_repeated_refused_use_is_refused_again_even_after_credits_arrive():
    refused = when(given(renewed("solo")), used(units=20, command_id="use-1"))
    topped_up = given(bought("large", at=2), on=refused.state)

    repeat = when(topped_up, used(units=20, command_id="use-1", at=3))

    assert repeat.events == ()
    assert repeat.outcome == refused.outcome
    assert spendable(repeat.state) == (980, 10_000, 0)
