"""The event store, one test body over SQLite and PostgreSQL: streams round-trip, snapshots
shorten loads without changing them, and a batch's events and position commit together."""

from __future__ import annotations

import threading

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from services.ledger.catalog_file import load_catalog
from services.ledger.chain import GENESIS
from services.ledger.core import Account, handle
from services.ledger.core.past import Remembered
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore, seal
from tests.unit.core import scenario as s


@pytest.fixture
def store(store_settings):
    store = LedgerStore(store_settings)
    yield store
    store.close()


def decided(account: str, *commands, state: Account | None = None) -> tuple[Account, list]:
    """The account after these commands and its events, sealed onto the chain as stored."""
    state, recorded, head = state or Account(), [], GENESIS
    past = Remembered()
    for command in commands:
        command = command.model_copy(update={"account_id": account})
        decision = handle(command, state, s.CATALOG, past)
        past.remember(decision.events)
        for version, event in enumerate(decision.events, start=state.version + 1):
            recorded.append(seal(account, version, event, head))
            head = recorded[-1].chain
        state = decision.state
    return state, recorded


def test_an_accounts_stream_round_trips_through_the_store(store):
    state, recorded = decided("acct-1", s.renewed("solo"), s.bought("small"), s.used(units=3))

    store.append(recorded)

    assert store.stream("acct-1") == recorded
    assert store.load("acct-1") == state
    assert store.load("acct-unknown") == Account()


def test_a_long_stream_is_snapshotted_and_loads_the_same_from_its_snapshot(store):
    commands = [s.bought("large", payment_ref="p")] + [
        s.used("keyword_suggestions", at=1 + n / 1000) for n in range(store.snapshot_every + 20)
    ]
    commands = [c.model_copy(update={"account_id": "acct-long"}) for c in commands]
    ledger = Ledger(store, load_catalog(), max_message_bytes=65536)
    for offset, command in enumerate(commands):
        record = Incoming("commands", 0, offset, b"acct-long", command.model_dump_json().encode())
        ledger.commit(ledger.decide_batch([record]))

    (snapshot,) = store.snapshots.recorder.select_events("acct-long", desc=True, limit=1)
    assert snapshot.originator_version == store.snapshot_every
    assert store.load("acct-long") == decided("acct-long", *commands)[0]
    assert store.load("acct-long").version == len(commands)


def test_a_batch_and_its_position_are_stored_together_or_not_at_all(store):
    _, first = decided("acct-1", s.bought("small"))
    _, second = decided("acct-2", s.bought("small"))
    store.append(first, Tracking("commands:0", 10))

    with pytest.raises(IntegrityError):
        store.append(second, Tracking("commands:0", 10))  # a stale position: already stored

    assert store.stream("acct-2") == []
    assert store.position("commands:0") == 10


def test_a_batch_of_two_partitions_stores_both_positions_or_neither(store):
    _, first = decided("acct-1", s.bought("small"))
    _, second = decided("acct-2", s.bought("small"))
    store.append(first, Tracking("commands:0", 10), Tracking("commands:5", 3))

    with pytest.raises(IntegrityError):  # partition 1's position is new, partition 5's stale
        store.append(second, Tracking("commands:1", 4), Tracking("commands:5", 3))

    assert (store.position("commands:0"), store.position("commands:5")) == (10, 3)
    assert store.position("commands:1") is None and store.stream("acct-2") == []


def test_two_writers_cannot_both_append_the_same_version_of_a_stream(store):
    _, ours = decided("acct-1", s.bought("small"))
    _, theirs = decided("acct-1", s.bought("medium"))
    store.append(ours)

    with pytest.raises(IntegrityError):
        store.append(theirs)

    assert [r.event.package for r in store.stream("acct-1")] == ["small"]


@pytest.mark.parametrize("backend", ["postgres"])  # autovacuum and advisory locks
def test_an_autovacuum_of_the_events_table_does_not_stall_a_commit_for_a_second(
    store, store_settings
):
    """The library's LOCK TABLE ... EXCLUSIVE waited for autovacuum's lock until PostgreSQL
    cancelled the vacuum after deadlock_timeout: a one-second stall in two benchmark runs of
    three (issue 15)."""
    _, events = decided("acct-1", s.renewed("solo", 0))
    with psycopg.connect(store_settings.postgres_dsn()) as vacuum:
        vacuum.execute(f"LOCK TABLE {_events(store)} IN SHARE UPDATE EXCLUSIVE MODE")  # as it

        appending = _started(lambda: store.append(events))
        appending.join(3.0)
        assert not appending.is_alive()
    assert [type(r.event).__name__ for r in store.stream("acct-1")] == ["CycleStarted"]


@pytest.mark.parametrize("backend", ["postgres"])
def test_writers_of_the_events_table_still_take_turns_until_each_commits(store):
    """Notification ids must commit in order, or a follower of the log could pass one over."""
    _, events = decided("acct-1", s.renewed("solo", 0))
    recorder = store.ledger_recorder
    with recorder.datastore.get_connection() as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (recorder.turn,))

        appending = _started(lambda: store.append(events))
        appending.join(1.0)
        assert appending.is_alive()  # waiting for the other writer to commit
    appending.join(5.0)
    assert not appending.is_alive() and len(store.stream("acct-1")) == 1


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_batch_from_eight_partitions_waits_on_the_database_as_often_as_one_from_one(
    store, monkeypatch
):
    """The library's tracking insert read each position's result as it went: in a pipeline,
    one more wait for the database's answer per partition the batch came from (eight in a
    full batch), each a round trip."""
    waits = []
    wait = psycopg.Connection.wait
    appending = threading.get_ident()  # not the pool's own threads, which wait on theirs

    def counted(*args, **kwargs):
        if threading.get_ident() == appending:
            waits.append(1)
        return wait(*args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "wait", counted)

    def waits_to_append(account: str, positions: list[Tracking]) -> int:
        _, events = decided(account, s.bought("small"))
        waits.clear()
        store.append(events, *positions)
        return len(waits)

    waits_to_append("acct-0", [Tracking("commands:0", 1)])  # its statements prepared
    one = waits_to_append("acct-1", [Tracking("commands:0", 2)])
    eight = waits_to_append("acct-2", [Tracking(f"commands:{p}", 3) for p in range(8)])

    assert eight == one
    assert [store.position(f"commands:{p}") for p in range(8)] == [3] * 8


def _events(store: LedgerStore) -> str:
    recorder = store.ledger_recorder
    return f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'


def _started(action) -> threading.Thread:
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    return worker
