"""Bounded history (issue #11), one test body over SQLite and PostgreSQL: the state and its one
snapshot hold what is open, and what the rules need of the past comes from the store's index,
so a command decided long ago is still answered with its first outcome: past a snapshot, after
a restart, after the cache forgot it, and after the index was rebuilt from the events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import psycopg.sql
import pytest
from eventsourcing.persistence import IntegrityError
from psycopg.rows import tuple_row

from events.commands import Command
from services.ledger.catalog_file import load_catalog
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.recorders import INDEX, SHARED_INDEX, key_arrays
from services.ledger.store import LedgerStore
from tests.unit.core import scenario as s

ACCOUNT = "acct-old"
_offsets = itertools.count()


@pytest.fixture
def store(store_settings):
    store = LedgerStore(store_settings)
    yield store
    store.close()


def record_of(command: Command) -> Incoming:
    """The command, for ``ACCOUNT``, as the next record of partition 0."""
    value = command.model_copy(update={"account_id": ACCOUNT}).model_dump_json().encode()
    return Incoming("commands", 0, next(_offsets), ACCOUNT.encode(), value)


def run(ledger: Ledger, *commands: Command):
    """Decide and commit each command as its own batch; the outcomes."""
    outcomes = []
    for command in commands:
        batch = ledger.decide_batch([record_of(command)])
        ledger.commit(batch)
        outcomes += batch.outcomes
    return outcomes


def ledger_on(store: LedgerStore) -> Ledger:
    return Ledger(store, load_catalog(), max_message_bytes=65536)


def a_long_history(ledger: Ledger, uses: int):
    """A Solo cycle, a package, the use ``first-use``, then ``uses`` more uses."""
    first = s.used("content_analysis", at=0.5, command_id="first-use")
    opened = run(ledger, s.renewed("solo", 0), s.bought("large", payment_ref="pay-1"), first)
    run(ledger, *(s.used("keyword_suggestions", at=1 + n / 10_000) for n in range(uses)))
    return first, opened[-1]


def test_a_use_decided_before_the_last_snapshot_is_a_repeat_after_a_restart(store, store_settings):
    first, answered = a_long_history(ledger_on(store), uses=store.snapshot_every + 50)

    restarted = LedgerStore(store_settings)
    try:
        (again,) = run(ledger_on(restarted), first)
    finally:
        restarted.close()

    assert again.repeat and again.charged == answered.charged and again.status == "accepted"
    assert again.stream_version == store.load(ACCOUNT).version  # nothing was decided


def test_a_repeat_is_answered_after_the_cache_forgot_the_account(store):
    ledger = ledger_on(store)
    first, answered = a_long_history(ledger, uses=30)
    ledger.forget()

    (again,) = run(ledger, first)

    assert again.repeat and again.charged == answered.charged


def test_a_refund_of_an_old_use_is_given_once_after_a_restart(store, store_settings):
    a_long_history(ledger_on(store), uses=store.snapshot_every + 10)
    restarted = ledger_on(LedgerStore(store_settings))

    refund, twice = run(
        restarted,
        s.refunded_use("first-use", at=3, command_id="refund-1"),
        s.refunded_use("first-use", at=3.1),
    )

    uses = 10 + store.snapshot_every + 10  # the first use (10), then the uses of 1 credit
    assert (refund.status, refund.balance.subscription) == ("accepted", 980 - uses + 10)
    assert (twice.code, twice.details["refunded_by"]) == ("already_refunded", "refund-1")
    restarted.store.close()


def test_each_account_keeps_one_small_snapshot_whatever_its_history(store):
    a_long_history(ledger_on(store), uses=3 * store.snapshot_every)

    snapshots = store.snapshots.recorder.select_events(ACCOUNT)

    assert [snap.originator_version for snap in snapshots] == [3 * store.snapshot_every]
    assert len(snapshots[0].state) <= 16 * 1024


def test_a_snapshot_stored_again_at_its_version_after_a_restart_is_kept_once_not_an_error(store):
    """A restarted ledger does not know which versions it snapshotted: storing one again at
    the same version raised a duplicate key, and the batch's other snapshots were lost."""
    a_long_history(ledger_on(store), uses=store.snapshot_every)
    state, head = store.load_with_head(ACCOUNT)
    store.save_snapshots([(ACCOUNT, state, head)])

    store.save_snapshots([(ACCOUNT, state, head), ("acct-other", state, head)])

    versions = [snap.originator_version for snap in store.snapshots.recorder.select_events(ACCOUNT)]
    assert versions == [state.version]
    assert store.snapshots.recorder.select_events("acct-other")


def test_a_batch_deciding_again_a_command_the_store_has_decided_stores_nothing(store):
    """A decision's key is inserted, never moved on (no upsert's look for it first): a batch
    that would answer a decided command with a second event fails whole, where the upsert
    pointed the key at the new event and the command counted twice."""
    ledger = ledger_on(store)
    run(ledger, s.renewed("solo", 0), s.used("content_analysis", at=0.5, command_id="use-1"))
    stored = store.load(ACCOUNT).version
    batch = ledger.decide_batch([record_of(s.used("content_analysis", at=0.6, command_id="use-2"))])
    batch.index[:] = [(a, k.replace("use-2", "use-1"), v) for a, k, v in batch.index]

    with pytest.raises(IntegrityError):
        ledger.commit(batch)

    ledger.forget()
    assert store.load(ACCOUNT).version == stored
    (again,) = run(ledger, s.used("content_analysis", at=0.5, command_id="use-1"))
    assert again.repeat and again.stream_version == stored


def test_streams_stored_before_the_index_existed_are_indexed_when_the_store_opens(
    store, store_settings
):
    first, answered = a_long_history(ledger_on(store), uses=20)
    with store.ledger_recorder.datastore.transaction(commit=True) as c:
        c.execute(f"DELETE FROM {_index(store_settings)}")  # as today's code left the database

    reopened = LedgerStore(store_settings)
    try:
        (again,) = run(ledger_on(reopened), first)
    finally:
        reopened.close()

    assert again.repeat and again.charged == answered.charged


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_batchs_keys_are_each_probed_in_their_own_index_not_hashed_with_whole_tables(store):
    """The batch's look-up joined its keys with the whole index, and every key with the
    store-wide index as well. While the tables were small (and in the plan PostgreSQL cached
    then) it hashed all of both, and all of the events, for every batch: 18 ms for a batch of
    500 where probing the keys takes 2.5 (BENCHMARKS.md)."""
    a_long_history(ledger_on(store), uses=300)
    recorder = store.ledger_recorder
    snapshots = store.snapshots.recorder.events_table_name
    wanted = [(ACCOUNT, f"cmd:new-{n}") for n in range(500)] + [(ACCOUNT, "*payment:pay-1")]
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
        c.execute("ANALYZE")
        c.execute(
            psycopg.sql.SQL("EXPLAIN (FORMAT JSON) ") + recorder._look_up(snapshots),
            ([], *key_arrays(wanted)),
            binary=True,
        )
        (plan,) = c.fetchone()

    hashed = {
        scan["Relation Name"]
        for node in _nodes(plan[0]["Plan"])
        if node["Node Type"] == "Hash"
        for scan in _nodes(node)
        if "Relation Name" in scan
    }
    assert hashed.isdisjoint({INDEX, SHARED_INDEX, "ledger_events"}), hashed


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _index(settings) -> str:
    return f'"{settings.postgres_schema}".{INDEX}' if settings.event_store == "postgres" else INDEX


def test_a_different_command_reusing_an_old_id_is_answered_as_the_command_first_decided(store):
    ledger = ledger_on(store)
    _, answered = a_long_history(ledger, uses=5)

    (again,) = run(ledger, s.bought("small", at=3, command_id="first-use"))

    assert again.repeat and again.command_type == "UseTool" == answered.command_type
    assert again.charged == answered.charged


@pytest.mark.parametrize("backend", ["postgres"])  # in-process SQLite has no round trips
def test_a_repeat_for_an_account_not_cached_is_one_query_not_three(store, monkeypatch):
    """A cold repeat was three round trips (the index, the snapshot, the events after it):
    2.6 ms p99 in the long-account benchmark, over issue 11's 2 ms."""
    ledger = ledger_on(store)
    first, answered = a_long_history(ledger, uses=store.snapshot_every + 10)
    ledger.forget()
    statements = count_statements(monkeypatch)

    batch = ledger.decide_batch([record_of(first)])
    queried = list(statements)

    (again,) = batch.outcomes
    assert again.repeat and again.charged == answered.charged
    assert again.stream_version == store.load(ACCOUNT).version
    assert len(queried) == 1, queried


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent to PostgreSQL from now on."""
    sent: list[str] = []
    real = psycopg.Cursor.execute

    def execute(cursor, query, *args, **kwargs):
        sent.append(query.as_string(cursor) if hasattr(query, "as_string") else str(query))
        return real(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    return sent


def test_a_batch_recalls_every_key_it_asks_however_many_and_a_store_wide_key_as_asked(store):
    ledger = ledger_on(store)
    uses = [
        s.used("keyword_suggestions", at=1 + n / 10_000, command_id=f"u-{n}") for n in range(450)
    ]
    run(ledger, s.renewed("solo", 0), s.bought("large", payment_ref="pay-9"), *uses)
    wanted = [(ACCOUNT, f"cmd:u-{n}") for n in range(450)] + [
        (ACCOUNT, f"cmd:never-{n}") for n in range(450)
    ]
    wanted += [("acct-elsewhere", "*payment:pay-9"), (ACCOUNT, "payment:pay-9")]

    found = store.recall(wanted)

    assert {key for _, key in found if key.startswith("cmd:")} == {f"cmd:u-{n}" for n in range(450)}
    assert type(found[("acct-elsewhere", "*payment:pay-9")]).__name__ == "PackagePurchased"
    assert type(found[(ACCOUNT, "payment:pay-9")]).__name__ == "PackagePurchased"
    assert len(found) == 452
