"""Payment events in any order: a provider may deliver a refund or a chargeback before the
success it reverses, and a won dispute after (or before) its chargeback. Whatever the order,
credits stay only while the money pays for them."""

from events.commands import Offer, Paid
from events.ledger import (
    PackagePurchased,
    PackageRestored,
    PaymentParked,
    PaymentReversed,
    PurchaseReversed,
)
from tests.unit.core.scenario import (
    bought,
    charged_back,
    day,
    dispute_won,
    event_types,
    given,
    refunded_package,
    spendable,
    then_refused,
    used,
    when,
)


def test_a_refund_that_arrives_before_its_success_is_recorded_and_the_success_buys_nothing():
    reversed_first = when(given(), refunded_package("pay-1", at=1))

    decision = when(reversed_first.state, bought("small", payment_ref="pay-1", at=2))

    assert reversed_first.events == (
        PaymentReversed(
            command_id=reversed_first.outcome.command_id,
            occurred_at=day(1),
            payment_ref="pay-1",
            reason="refund",
        ),
    )
    assert event_types(decision.events) == ["PackagePurchased", "PurchaseReversed"]
    assert decision.outcome == PurchaseReversed(
        command_id=decision.outcome.command_id,
        occurred_at=day(2),
        payment_ref="pay-1",
        lot_id="package:pay-1",
        credits_removed=1000,
        reason="refund",
    )
    assert spendable(decision.state) == (0, 0, 0)


def test_a_chargeback_before_its_success_leaves_no_credits_and_a_later_refund_is_a_repeat():
    account = given(charged_back("pay-1", at=1), bought("medium", payment_ref="pay-1", at=2))

    decision = when(account, refunded_package("pay-1", at=3))

    then_refused(decision, "already_refunded")
    assert spendable(decision.state) == (0, 0, 0)


def test_a_second_reversal_before_the_success_is_refused_as_already_reversed():
    account = given(refunded_package("pay-1", at=1))

    then_refused(when(account, charged_back("pay-1", at=2)), "already_refunded")


def test_a_dispute_won_gives_back_only_what_the_chargeback_removed():
    account = given(
        bought("small", payment_ref="pay-1", at=0),
        used(units=4, at=1),  # 200 of the package's 1,000 spent
        charged_back("pay-1", at=2),
    )

    decision = when(account, dispute_won("pay-1", at=3))

    assert decision.events == (
        PackageRestored(
            command_id=decision.outcome.command_id,
            occurred_at=day(3),
            payment_ref="pay-1",
            lot_id="package:pay-1",
            credits=800,
        ),
    )
    assert spendable(decision.state) == (0, 800, 0)


def test_a_refund_after_a_won_dispute_removes_the_restored_credits():
    account = given(
        bought("small", payment_ref="pay-1", at=0),
        charged_back("pay-1", at=1),
        dispute_won("pay-1", at=2),
    )

    decision = when(account, refunded_package("pay-1", at=3))

    assert decision.outcome.credits_removed == 1000
    assert spendable(decision.state) == (0, 0, 0)


def test_a_dispute_won_after_a_chargeback_that_came_before_the_success_lets_it_buy():
    account = given(charged_back("pay-1", at=1), dispute_won("pay-1", at=2))

    decision = when(account, bought("small", payment_ref="pay-1", at=3))

    assert event_types(decision.events) == ["PackagePurchased"]
    assert spendable(decision.state) == (0, 1000, 0)


def test_a_dispute_won_before_its_chargeback_makes_the_chargeback_remove_nothing():
    account = given(bought("small", payment_ref="pay-1", at=0), dispute_won("pay-1", at=1))

    decision = when(account, charged_back("pay-1", at=2))

    then_refused(decision, "dispute_already_won")
    assert spendable(decision.state) == (0, 1000, 0)


def test_a_dispute_won_over_a_refunded_payment_is_refused_and_gives_nothing_back():
    account = given(bought("small", payment_ref="pay-1"), refunded_package("pay-1", at=1))

    decision = when(account, dispute_won("pay-1", at=2))

    then_refused(decision, "not_disputed")
    assert spendable(decision.state) == (0, 0, 0)


def test_a_dispute_is_won_once():
    account = given(
        bought("small", payment_ref="pay-1"), charged_back("pay-1", at=1), dispute_won("pay-1")
    )

    then_refused(when(account, dispute_won("pay-1", at=4)), "not_disputed")


def test_a_payment_at_the_price_quoted_at_checkout_buys_the_quoted_package():
    quoted = Offer(credits=1000, price_cents=4000, currency="USD")  # the catalog says 5000 now
    command = bought("small", payment_ref="pay-1").model_copy(
        update={"offer": quoted, "paid": Paid(amount_cents=4000, currency="USD")}
    )

    decision = when(given(), command)

    assert isinstance(decision.outcome, PackagePurchased)
    assert (decision.outcome.credits, decision.outcome.price_cents) == (1000, 4000)
    assert spendable(decision.state) == (0, 1000, 0)


def test_a_payment_that_is_not_the_price_is_parked_paid_but_not_credited():
    command = bought("small", payment_ref="pay-1", at=1).model_copy(
        update={"paid": Paid(amount_cents=4000, currency="USD")}
    )

    decision = when(given(), command)

    assert decision.events == (
        PaymentParked(
            command_id=command.command_id,
            occurred_at=day(1),
            payment_ref="pay-1",
            package="small",
            paid_cents=4000,
            currency="USD",
            price_cents=5000,
            price_currency="USD",
        ),
    )
    assert spendable(decision.state) == (0, 0, 0)


def test_a_payment_for_a_package_no_longer_sold_is_parked_not_refused():
    command = bought("jumbo", payment_ref="pay-1").model_copy(
        update={"paid": Paid(amount_cents=9900, currency="USD")}
    )

    decision = when(given(), command)

    assert isinstance(decision.outcome, PaymentParked)
    assert (decision.outcome.price_cents, decision.outcome.price_currency) == (None, None)
