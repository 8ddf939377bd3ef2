"""One payment, one package, in the whole store, one test body over SQLite and PostgreSQL: a
payment reference that bought a package for one account is refused for another
(``payment_already_used``) and stores nothing, after a restart, after the index was rebuilt,
and even when two ledgers decided it at once (the store-wide index refuses the second write)."""

from __future__ import annotations

import itertools

import pytest
from eventsourcing.persistence import IntegrityError

from events.commands import Command
from services.ledger.catalog_file import load_catalog
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.recorders import INDEX, SHARED_INDEX
from services.ledger.store import LedgerStore
from tests.unit.core import scenario as s

_offsets = itertools.count()


@pytest.fixture
def store(store_settings):
    store = LedgerStore(store_settings)
    yield store
    store.close()


def on(account_id: str, command: Command) -> Incoming:
    value = command.model_copy(update={"account_id": account_id}).model_dump_json().encode()
    return Incoming("commands", 0, next(_offsets), account_id.encode(), value)


def ledger_on(store: LedgerStore) -> Ledger:
    return Ledger(store, load_catalog(), max_message_bytes=65536)


def run(ledger: Ledger, *records: Incoming):
    batch = ledger.decide_batch(list(records))
    ledger.commit(batch)
    return batch.outcomes


def test_a_payment_that_bought_for_one_account_is_refused_for_another_and_stores_nothing(
    store, store_settings
):
    run(ledger_on(store), on("acct-a", s.bought("small", payment_ref="pay-1")))
    run(ledger_on(store), on("acct-b", s.renewed("solo", 0)))

    restarted = LedgerStore(store_settings)
    try:
        (again,) = run(ledger_on(restarted), on("acct-b", s.bought("large", payment_ref="pay-1")))
        (other,) = run(ledger_on(restarted), on("acct-c", s.bought("small", payment_ref="pay-1")))
        versions = [restarted.load(a).version for a in ("acct-a", "acct-b", "acct-c")]
    finally:
        restarted.close()

    assert (again.status, again.code) == ("refused", "payment_already_used")
    assert (other.status, other.code) == ("refused", "payment_already_used")
    assert versions == [1, 1, 0]  # nothing stored for either refusal


def test_the_store_wide_index_is_filled_again_when_the_index_is_rebuilt(store, store_settings):
    run(ledger_on(store), on("acct-a", s.bought("small", payment_ref="pay-1")))
    with store.ledger_recorder.datastore.transaction(commit=True) as c:
        for table in (INDEX, SHARED_INDEX):
            c.execute(f"DELETE FROM {_named(store_settings, table)}")  # as an older store

    reopened = LedgerStore(store_settings)
    try:
        (again,) = run(ledger_on(reopened), on("acct-b", s.bought("small", payment_ref="pay-1")))
    finally:
        reopened.close()

    assert again.code == "payment_already_used"


def test_two_ledgers_deciding_one_payment_for_two_accounts_at_once_store_it_once(
    store, store_settings
):
    other = LedgerStore(store_settings)
    try:
        first, second = ledger_on(store), ledger_on(other)
        a = first.decide_batch([on("acct-a", s.bought("small", payment_ref="pay-1"))])
        b = second.decide_batch([on("acct-b", s.bought("small", payment_ref="pay-1"))])
        first.commit(a)
        with pytest.raises(IntegrityError):
            second.commit(b)  # the batch is retried: decided again, it is refused
        second.forget()
        (retried,) = run(second, on("acct-b", s.bought("small", payment_ref="pay-1")))
        stored_b = other.load("acct-b").version
    finally:
        other.close()

    assert retried.code == "payment_already_used" and stored_b == 0


def _named(settings, table: str) -> str:
    return f'"{settings.postgres_schema}".{table}' if settings.event_store == "postgres" else table
