"""Drawdown order: soonest-ending first, then lots that never expire, oldest first. A package's
lot that was emptied and closes keeps its age when credits come back to it."""

from services.ledger.core import spendable as in_order
from tests.unit.core.scenario import (
    bought,
    day,
    given,
    granted,
    refunded_use,
    released,
    reserved,
    spendable,
    used,
    when,
)


def _order(account, at: float = 5) -> list[str]:
    return [lot.lot_id for lot in in_order(account, day(at))]


def test_a_package_emptied_by_a_use_that_is_refunded_is_drawn_before_newer_packages_and_grants():
    account = given(
        bought("small", payment_ref="old", at=0),
        used(units=20, at=1, command_id="use-all"),  # empties the old package: its lot closes
        bought("small", payment_ref="new", at=2),
        granted(100, at=2.5),
        refunded_use("use-all", at=3),
    )

    decision = when(account, used("keyword_suggestions", at=4))

    assert [draw.lot_id for draw in decision.outcome.draws] == ["package:old"]
    assert _order(account)[:2] == ["package:old", "package:new"]
    assert spendable(decision.state) == (0, 1999, 100)


def test_a_package_emptied_by_a_hold_that_is_released_is_drawn_before_newer_packages():
    account = given(
        bought("small", payment_ref="old", at=0),
        reserved("h1", credits=1000, at=1, expires=1.9),
        bought("small", payment_ref="new", at=1.5),
        released("h1", at=1.8),
    )

    decision = when(account, used("keyword_suggestions", at=2.5))

    assert [draw.lot_id for draw in decision.outcome.draws] == ["package:old"]
    assert spendable(decision.state) == (0, 1999, 0)


def test_a_package_emptied_by_a_hold_that_expires_keeps_its_age():
    account = given(
        bought("small", payment_ref="old", at=0),
        reserved("h1", credits=1000, at=1, expires=2),
        bought("small", payment_ref="new", at=1.5),
    )

    decision = when(account, used("keyword_suggestions", at=2.5))  # the hold expires first

    assert [draw.lot_id for draw in decision.outcome.draws] == ["package:old"]
