"""One payment, one package, in the whole store: a payment reference that bought a package for
one account buys nothing for another (the store answers the store-wide key ``*payment:<ref>``
whichever account holds it)."""

from events.ledger import LedgerEvent
from services.ledger.core import Remembered, handle
from tests.unit.core.scenario import CATALOG, bought, given, spendable, then_refused, when


class StoreWide:
    """The store-wide keys of another account's events, as the store answers them."""

    def __init__(self, *events: LedgerEvent) -> None:
        kept = Remembered(events).index
        self.index = {key: event for key, event in kept.items() if key.startswith("*")}

    def recall(self, key: str) -> LedgerEvent | None:
        return self.index.get(key)


def test_a_payment_that_bought_a_package_for_another_account_buys_nothing_here():
    elsewhere = when(given(), bought("small", payment_ref="pay-1")).outcome

    decision = handle(bought("large", payment_ref="pay-1", at=2), given(), CATALOG,
                      StoreWide(elsewhere))  # fmt: skip

    refusal = then_refused(decision, "payment_already_used")
    assert refusal.details == {"payment_ref": "pay-1"}
    assert spendable(decision.state) == (0, 0, 0)


def test_another_payment_still_buys_for_the_second_account():
    elsewhere = when(given(), bought("small", payment_ref="pay-1")).outcome

    decision = handle(bought("large", payment_ref="pay-2", at=2), given(), CATALOG,
                      StoreWide(elsewhere))  # fmt: skip

    assert spendable(decision.state) == (0, 10000, 0)
