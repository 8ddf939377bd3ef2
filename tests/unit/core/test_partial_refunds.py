"""Partial refunds: the refunded share of a payment takes the credits it paid for, rounded in
the customer's favour. Providers report the amount refunded so far, in all, so each partial
refund removes only what the earlier ones had not; in any order with the purchase."""

from events.ledger import PackagePartlyRefunded, PurchaseReversed
from tests.unit.core.scenario import (
    bought,
    charged_back,
    day,
    dispute_won,
    event_types,
    given,
    partly_refunded,
    refunded_package,
    spendable,
    then_refused,
    used,
    when,
)

# "small" is 1000 credits for 5000 cents: a cent pays for a fifth of a credit.


def test_a_partial_refund_removes_the_credits_its_share_paid_for_rounded_down():
    account = given(bought("small", payment_ref="pay-1", at=1))

    decision = when(account, partly_refunded("pay-1", 1234, command_id="refund-1"))

    assert decision.events == (
        PackagePartlyRefunded(
            command_id="refund-1",
            occurred_at=day(2),
            payment_ref="pay-1",
            lot_id="package:pay-1",
            refunded_cents=1234,
            credits_refunded=246,  # 246.8: the customer keeps the fraction
            credits_removed=246,
            shortfall_credits=0,
        ),
    )
    assert spendable(decision.state) == (0, 754, 0)


def test_a_second_partial_refund_removes_only_the_difference_from_the_first():
    account = given(bought("small", payment_ref="pay-1", at=1), partly_refunded("pay-1", 1234))

    decision = when(account, partly_refunded("pay-1", 2500, at=3))

    assert (decision.outcome.credits_refunded, decision.outcome.credits_removed) == (500, 254)
    assert spendable(decision.state) == (0, 500, 0)


def test_a_partial_refund_no_larger_than_the_last_one_is_refused_and_removes_nothing():
    account = given(bought("small", payment_ref="pay-1", at=1), partly_refunded("pay-1", 2500))

    then_refused(when(account, partly_refunded("pay-1", 2500, at=3)), "already_refunded")
    then_refused(when(account, partly_refunded("pay-1", 1000, at=3)), "already_refunded")
    assert spendable(account) == (0, 500, 0)


def test_a_partial_refund_of_credits_already_spent_records_them_as_a_shortfall():
    account = given(
        bought("small", payment_ref="pay-1", at=1),
        used("article_generation", units=18, at=1.5),  # 900 of the 1000
    )

    decision = when(account, partly_refunded("pay-1", 2500))

    assert (decision.outcome.credits_removed, decision.outcome.shortfall_credits) == (100, 400)
    assert spendable(decision.state) == (0, 0, 0)


def test_the_full_refund_after_a_partial_one_removes_the_rest_and_counts_the_partial_once():
    account = given(
        bought("small", payment_ref="pay-1", at=1),
        partly_refunded("pay-1", 2500),
        used("article_generation", units=2, at=2.5),  # 100 of the remaining 500
    )

    decision = when(account, refunded_package("pay-1", at=3))

    assert (decision.outcome.credits_removed, decision.outcome.shortfall_credits) == (400, 100)
    assert spendable(decision.state) == (0, 0, 0)


def test_a_partial_refund_after_the_full_refund_is_refused():
    account = given(bought("small", payment_ref="pay-1", at=1), refunded_package("pay-1"))

    then_refused(when(account, partly_refunded("pay-1", 1000, at=3)), "already_refunded")


def test_a_partial_refund_before_its_success_is_recorded_and_the_success_buys_the_rest():
    account = given(partly_refunded("pay-1", 1234, at=1), partly_refunded("pay-1", 2500, at=1.5))

    decision = when(account, bought("small", payment_ref="pay-1", at=2))

    assert event_types(decision.events) == ["PackagePurchased", "PurchaseReversed"]
    assert decision.outcome == PurchaseReversed(
        command_id=decision.outcome.command_id,
        occurred_at=day(2),
        payment_ref="pay-1",
        lot_id="package:pay-1",
        credits_removed=500,
        reason="refund",
        refunded_cents=2500,
    )
    assert spendable(decision.state) == (0, 500, 0)


def test_a_partial_refund_after_one_recorded_at_the_purchase_removes_only_the_difference():
    account = given(partly_refunded("pay-1", 1234, at=1), bought("small", payment_ref="pay-1"))

    decision = when(account, partly_refunded("pay-1", 2500, at=3))

    assert (decision.outcome.credits_removed, spendable(decision.state)) == (254, (0, 500, 0))


def test_a_full_refund_after_a_partial_one_before_the_success_leaves_nothing_bought():
    account = given(partly_refunded("pay-1", 1234, at=1), refunded_package("pay-1", at=1.5))

    decision = when(account, bought("small", payment_ref="pay-1", at=2))

    assert decision.outcome.refunded_cents is None
    assert spendable(decision.state) == (0, 0, 0)


def test_a_won_dispute_after_a_partial_refund_gives_back_only_what_the_chargeback_removed():
    account = given(
        bought("small", payment_ref="pay-1", at=1),
        partly_refunded("pay-1", 2500, at=1.5),
        charged_back("pay-1", at=2),
        dispute_won("pay-1", at=3),
    )

    assert spendable(account) == (0, 500, 0)
    decision = when(account, partly_refunded("pay-1", 3000, at=4))
    assert (decision.outcome.credits_removed, spendable(decision.state)) == (100, (0, 400, 0))
