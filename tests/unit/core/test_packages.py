"""Purchased credits: packages that never expire, and what a payment refund takes back."""

import pytest

from events.ledger import PackagePurchased, PackageRefunded
from tests.unit.core.scenario import (
    bought,
    day,
    given,
    refunded_package,
    refunded_use,
    renewed,
    reserved,
    settled,
    spendable,
    then_refused,
    used,
    when,
)


@pytest.mark.parametrize(
    ("package", "credits", "price_cents"),
    [("small", 1000, 5000), ("medium", 5000, 25000), ("large", 10000, 50000)],
)
def test_buying_a_package_adds_a_lot_of_its_credits_at_its_price(package, credits, price_cents):
    decision = when(given(), bought(package, payment_ref="pay-1", command_id="buy-1"))

    assert decision.events == (
        PackagePurchased(
            command_id="buy-1",
            occurred_at=day(0),
            lot_id="package:pay-1",
            package=package,
            credits=credits,
            price_cents=price_cents,
            currency="USD",
            payment_ref="pay-1",
            catalog_version=1,
        ),
    )
    assert spendable(decision.state) == (0, credits, 0)


def test_purchased_credits_never_expire():
    account = given(bought("small"))

    decision = when(account, used("keyword_suggestions", at=3650))

    assert [type(event).__name__ for event in decision.events] == ["ToolUsed"]
    assert spendable(decision.state) == (0, 999, 0)


def test_an_unknown_package_is_refused():
    then_refused(when(given(), bought("jumbo")), "unknown_package")


def test_a_payment_buys_only_one_package():
    account = given(bought("small", payment_ref="pay-1"))

    decision = when(account, bought("large", payment_ref="pay-1"))

    then_refused(decision, "duplicate_payment")
    assert spendable(decision.state) == (0, 1000, 0)


def test_refunding_a_package_removes_what_remains_of_its_lot():
    account = given(bought("medium", payment_ref="pay-1"), bought("small", payment_ref="pay-2"))

    decision = when(account, refunded_package("pay-1"))

    assert decision.events == (
        PackageRefunded(
            command_id=decision.outcome.command_id,
            occurred_at=day(2),
            payment_ref="pay-1",
            lot_id="package:pay-1",
            credits_removed=5000,
            shortfall_credits=0,
        ),
    )
    assert spendable(decision.state) == (0, 1000, 0)


def test_refunding_a_partly_spent_package_records_the_shortfall_and_never_goes_negative():
    account = given(bought("small", payment_ref="pay-1"), used(units=15))

    decision = when(account, refunded_package("pay-1"))

    assert (decision.outcome.credits_removed, decision.outcome.shortfall_credits) == (250, 750)
    assert spendable(decision.state) == (0, 0, 0)


def test_a_package_is_refunded_at_most_once():
    account = given(bought("small", payment_ref="pay-1"), refunded_package("pay-1"))

    then_refused(when(account, refunded_package("pay-1", at=3)), "already_refunded")


def test_credits_given_back_to_a_refunded_package_are_removed_not_revived():
    account = given(
        renewed("solo"),
        bought("small", payment_ref="pay-1"),
        used(units=20, command_id="use-1"),
        refunded_package("pay-1"),
    )

    decision = when(account, refunded_use("use-1", at=3))

    assert [(d.kind, d.credits) for d in decision.outcome.returned] == [("subscription", 980)]
    assert [(f.lot_id, f.credits, f.reason) for f in decision.outcome.forfeited] == [
        ("package:pay-1", 20, "removed")
    ]
    assert spendable(decision.state) == (980, 0, 0)


def test_credits_an_open_hold_set_aside_are_not_counted_as_the_refund_shortfall():
    account = given(
        bought("small", payment_ref="pay-1"),
        reserved("h1", credits=300, at=1, expires=1.9),
        used(units=4, at=1.1),
    )

    decision = when(account, refunded_package("pay-1", at=1.2))

    refund = decision.outcome
    figures = (refund.credits_removed, refund.shortfall_credits, refund.credits_held)
    assert figures == (500, 200, 300)
    assert spendable(decision.state) == (0, 0, 0)


def test_a_package_a_hold_emptied_is_refunded_with_no_shortfall():
    account = given(bought("small", payment_ref="pay-1"), reserved("h1", credits=1000, at=1))

    decision = when(account, refunded_package("pay-1", at=1.5))

    refund = decision.outcome
    assert (refund.credits_removed, refund.shortfall_credits, refund.credits_held) == (0, 0, 1000)


def test_what_a_hold_on_a_refunded_package_settles_is_spent_and_what_it_releases_is_removed():
    account = given(
        bought("small", payment_ref="pay-1"),
        reserved("h1", credits=300, at=1, expires=1.9),
        refunded_package("pay-1", at=1.2),
    )

    decision = when(account, settled("h1", 100, at=1.5))

    assert [(d.lot_id, d.credits) for d in decision.outcome.draws] == [("package:pay-1", 100)]
    assert [(f.credits, f.reason) for f in decision.outcome.forfeited] == [(200, "removed")]
    assert spendable(decision.state) == (0, 0, 0)
