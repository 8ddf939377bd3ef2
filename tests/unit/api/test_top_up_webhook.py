"""The payment webhook and automatic top-ups: a saved card, a top-up's payment and a top-up's
failure each become their ledger command; told twice, the same command id."""

from __future__ import annotations

from datetime import UTC, datetime

from events.commands import BuyPackage, RecordTopUpFailure, SavePaymentMethod
from services.api.routes.checkouts import command_for
from services.ledger.core.decide import top_up_request_id
from services.payments.model import CardEvent, PaymentEvent, top_up_failure_id

NOW = datetime(2026, 11, 1, tzinfo=UTC)
REQUEST = top_up_request_id("acct-1", "use-1")


def payment(kind: str, checkout_id: str = REQUEST, **more: object) -> PaymentEvent:
    data = {
        "checkout_id": checkout_id,
        "payment_ref": "pi_1",
        "account_id": "acct-1",
        "package": "small",
        "amount_cents": 5000,
        "currency": "USD",
        **more,
    }
    return PaymentEvent.model_validate({"id": "evt_1", "type": kind, "created": 1, "data": data})


def test_a_saved_card_is_save_payment_method_under_an_id_of_the_card():
    card = CardEvent.model_validate(
        {
            "id": "evt_1",
            "type": "card.saved",
            "created": 1,
            "data": {"account_id": "acct-1", "provider_ref": "pm_1", "last4": "4242"},
        }
    )

    first, again = command_for(card, "key", NOW), command_for(card, "key", NOW)

    assert isinstance(first, SavePaymentMethod) and (first.last4, first.provider_ref) == (
        "4242",
        "pm_1",
    )
    assert again is not None and again.command_id == first.command_id


def test_a_top_ups_payment_buys_its_package_naming_the_request():
    command = command_for(payment("payment.succeeded"), "key", NOW)

    assert isinstance(command, BuyPackage) and command.top_up == REQUEST


def test_a_checkouts_payment_names_no_top_up():
    command = command_for(payment("payment.succeeded", checkout_id="kc_1"), "key", NOW)

    assert isinstance(command, BuyPackage) and command.top_up is None


def test_a_top_ups_failed_payment_is_its_failure_under_the_id_the_top_up_process_uses():
    failed = payment("payment.failed", failure_reason="card_declined")

    command = command_for(failed, "key", NOW)

    assert isinstance(command, RecordTopUpFailure)
    assert (command.request_id, command.reason) == (REQUEST, "card_declined")
    assert command.command_id == top_up_failure_id(REQUEST)


def test_a_checkouts_failed_payment_still_decides_nothing():
    assert command_for(payment("payment.failed", checkout_id="kc_1"), "key", NOW) is None
