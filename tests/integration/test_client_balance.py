"""Affordability before work, from the balance read model (advisory: the hold is the
guarantee), through both clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from events.refusals import UnknownTool
from tests.integration.client_ways import bought
from tests.integration.conftest_projections import folded


async def test_the_balance_is_the_read_models_and_says_what_work_is_affordable(
    ledger, projector, either
):
    outcome = await bought(either, "acct-rich")  # 1,000 purchased credits
    assert outcome.stream_version is not None
    await folded(projector, "acct-rich", outcome.stream_version)

    current = await either.balance("acct-rich")

    assert current is not None
    assert (current.total, current.purchased, current.held) == (1000, 1000, 0)
    assert current.version == outcome.stream_version
    assert await either.can_afford("acct-rich", "article_generation", 20)  # 1,000
    assert not await either.can_afford("acct-rich", "article_generation", 21)  # 1,050


async def test_credits_set_aside_by_a_hold_are_not_affordable(ledger, projector, either):
    await bought(either, "acct-held")
    async with either.hold("acct-held", "article_generation", units=19) as hold:  # 950
        await folded(projector, "acct-held", hold.reserve_outcome.stream_version)

        current = await either.balance("acct-held")
        affordable = await either.can_afford("acct-held", "article_generation", 2)
        await hold.settle(0)

    assert current is not None and (current.total, current.held) == (50, 950)
    assert not affordable


async def test_an_account_the_read_model_does_not_know_has_no_balance_and_affords_nothing(
    ledger, projector, either
):
    assert await either.balance("acct-nobody") is None
    assert not await either.can_afford("acct-nobody", "keyword_suggestions")


async def test_affordability_of_a_tool_the_catalog_does_not_know_is_refused(either):
    with pytest.raises(UnknownTool):
        await either.can_afford("acct-rich", "mind_reading")
