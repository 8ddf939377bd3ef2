"""The ledger over a fake store: a payment reference buys one package across accounts, in one
batch or in later ones, and the refusal of a second use stores nothing."""

from __future__ import annotations

from services.ledger.ledger import Ledger
from tests.unit.core.scenario import CATALOG, bought, renewed
from tests.unit.ledger.fakes import FakeStore, records


def decided(ledger: Ledger, *commands, first_offset: int = 0):
    batch = ledger.decide_batch(records(*commands, first_offset=first_offset))
    ledger.commit(batch)
    return batch


def test_a_payment_reference_buys_one_package_across_accounts_and_the_refusal_stores_nothing():
    store = FakeStore()
    ledger = Ledger(store, CATALOG, max_message_bytes=65536)
    first = bought("small", payment_ref="pay-1", command_id="buy-a")
    same_batch = bought("small", payment_ref="pay-1", command_id="buy-b").model_copy(
        update={"account_id": "acct-2"}
    )
    opened = renewed(command_id="renew-c").model_copy(update={"account_id": "acct-3"})
    later = bought("large", payment_ref="pay-1", command_id="buy-c").model_copy(
        update={"account_id": "acct-3"}
    )

    batch = decided(ledger, first, same_batch, opened)
    again = decided(ledger, later, first_offset=3)

    assert [(o.status, o.code) for o in batch.outcomes] == [
        ("accepted", None),
        ("refused", "payment_already_used"),
        ("accepted", None),
    ]
    assert (again.outcomes[0].code, again.outcomes[0].stream_version) == ("payment_already_used", 1)
    assert store.events("acct-3") == ["CycleStarted"] and "acct-2" not in store.streams
