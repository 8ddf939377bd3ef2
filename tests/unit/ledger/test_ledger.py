"""The ledger's batch loop (``Ledger.decide_batch`` and ``commit``) against an in-memory store:
repeats, dead letters, a decision that raises, snapshots, the batch's own decisions and the
cache, in milliseconds and without Kafka. The same paths on the real stores and broker are in
tests/integration/test_ledger_service.py and test_store.py."""

from __future__ import annotations

import dataclasses

import pytest
from eventsourcing.persistence import OperationalError

from services.ledger.core import handle
from services.ledger.ledger import Ledger
from tests.every_kind import every_kind
from tests.unit.core.scenario import CATALOG, T0, bought, renewed, used
from tests.unit.ledger.fakes import TOPIC, FakeStore, records


def ledger_on(store: FakeStore, **knobs) -> Ledger:
    return Ledger(store, CATALOG, max_message_bytes=65536, **knobs)


def decided(ledger: Ledger, *commands, first_offset: int = 0):
    batch = ledger.decide_batch(records(*commands, first_offset=first_offset))
    ledger.commit(batch)
    return batch


def test_a_batch_is_stored_with_the_position_after_it_only_when_committed():
    store = FakeStore()
    ledger = ledger_on(store)

    batch = ledger.decide_batch(records(renewed(), used()))

    assert store.streams == {} and store.positions == {}
    ledger.commit(batch)
    assert store.events("acct-1") == ["CycleStarted", "ToolUsed"]
    assert store.positions == {f"{TOPIC}:0": 2}
    assert [o.status for o in batch.outcomes] == ["accepted", "accepted"]
    assert batch.outcomes[-1].balance.total == 980 - 50


def test_a_fetch_of_two_partitions_is_one_batch_with_both_positions_stored_together():
    store = FakeStore()
    ledger = ledger_on(store)
    first = records(renewed(), used(), first_offset=7)
    other = [
        dataclasses.replace(
            r, partition=3, key=b"acct-2", value=r.value.replace(b"acct-1", b"acct-2")
        )
        for r in records(bought("small", command_id="b1"))
    ]

    batch = ledger.decide_batch([*first, *other])
    ledger.commit(batch)

    assert store.positions == {f"{TOPIC}:0": 9, f"{TOPIC}:3": 1}
    assert store.events("acct-1") == ["CycleStarted", "ToolUsed"]
    assert store.events("acct-2") == ["PackagePurchased"]


def test_a_later_command_in_the_batch_sees_what_an_earlier_one_decided():
    store = FakeStore()
    use = used(command_id="use-1")

    batch = decided(ledger_on(store), renewed(), use, use)

    assert [(o.status, o.repeat) for o in batch.outcomes] == [
        ("accepted", False),
        ("accepted", False),
        ("accepted", True),
    ]
    assert store.events("acct-1") == ["CycleStarted", "ToolUsed"]  # the repeat decided nothing


def test_a_repeat_in_a_later_batch_is_answered_from_the_store_and_decides_nothing():
    store = FakeStore()
    use = used(command_id="use-1")
    decided(ledger_on(store), renewed(), use)

    again = decided(ledger_on(store), use, first_offset=2)  # a fresh ledger: an empty cache

    (outcome,) = again.outcomes
    assert (outcome.repeat, outcome.command_type, outcome.status) == (True, "UseTool", "accepted")
    assert store.events("acct-1") == ["CycleStarted", "ToolUsed"]
    assert again.dead_letters == []


def test_an_unknown_tool_is_refused_and_dead_lettered_but_its_repeat_only_answered():
    store = FakeStore()
    ledger = ledger_on(store)
    wrong = used("no_such_tool", command_id="use-x")

    batch = decided(ledger, renewed(), wrong)
    again = decided(ledger, wrong, first_offset=2)

    assert (batch.outcomes[-1].status, batch.outcomes[-1].code) == ("refused", "unknown_tool")
    assert [letter.reason for letter in batch.dead_letters] == ["unknown_tool"]
    assert store.events("acct-1") == ["CycleStarted", "CommandRefused"]
    assert again.outcomes[0].repeat and again.dead_letters == []


def test_a_refused_command_for_an_account_never_opened_is_answered_but_not_stored():
    store = FakeStore()
    ledger = ledger_on(store)
    made_up = [used(command_id=f"use-{n}").model_copy(update={"account_id": f"ghost-{n}"})
               for n in range(3)]  # fmt: skip

    batch = decided(ledger, *made_up)
    again = decided(ledger, made_up[0], first_offset=3)

    assert [(o.status, o.code) for o in batch.outcomes] == [("refused", "unknown_account")] * 3
    assert [o.stream_version for o in batch.outcomes] == [0, 0, 0]
    assert store.streams == {} and store.positions == {f"{TOPIC}:0": 4}
    assert (again.outcomes[0].code, again.outcomes[0].repeat) == ("unknown_account", False)


def test_a_refused_command_for_an_opened_account_is_stored_for_its_repeat():
    store = FakeStore()

    decided(ledger_on(store), renewed(), used("no_such_tool"))

    assert store.events("acct-1") == ["CycleStarted", "CommandRefused"]


def test_unreadable_bytes_are_dead_lettered_and_answered_when_they_name_their_command():
    store = FakeStore()
    named = b'{"command_id": "c-9", "account_id": "acct-1", "type": "UseTool", "units": -1}'

    batch = decided(ledger_on(store), b"not json", named, renewed())

    assert [letter.reason for letter in batch.dead_letters] == ["undecodable", "schema_violation"]
    assert [(o.command_id, o.status) for o in batch.outcomes][:1] == [("c-9", "refused")]
    assert batch.outcomes[-1].status == "accepted"  # the batch goes on
    assert store.positions == {f"{TOPIC}:0": 3}


def test_a_decision_that_raises_is_an_internal_error_for_that_command_only():
    def handler(command, state, catalog, past, arrival):
        if command.command_id == "boom":
            raise AssertionError("an invariant broke")
        return handle(command, state, catalog, past, arrival)

    store = FakeStore()
    batch = decided(ledger_on(store, handler=handler), renewed(), used(command_id="boom"), used())

    refused = [(o.command_id, o.code) for o in batch.outcomes if o.status == "refused"]
    assert refused == [("boom", "internal_error")]
    assert [letter.reason for letter in batch.dead_letters] == ["internal_error"]
    assert "AssertionError: an invariant broke" in batch.dead_letters[0].error
    assert store.events("acct-1") == ["CycleStarted", "ToolUsed"]


def test_an_account_whose_stream_cannot_be_read_is_dead_lettered_and_the_others_decided():
    store = FakeStore()
    store.unreadable.add("acct-1")
    other = renewed().model_copy(update={"account_id": "acct-2"})

    batch = decided(ledger_on(store), renewed(), other)

    assert [letter.reason for letter in batch.dead_letters] == ["internal_error"]
    assert store.events("acct-2") == ["CycleStarted"]


def test_a_failing_store_fails_the_whole_batch_to_be_retried():
    store = FakeStore()

    def down(account_id):
        raise OperationalError("the database is away")

    store.load_with_head = down

    with pytest.raises(OperationalError):
        ledger_on(store).decide_batch(records(renewed()))


def test_snapshots_are_taken_when_enough_events_have_passed_since_the_last():
    store = FakeStore(snapshot_every=2)
    ledger = ledger_on(store)

    decided(ledger, renewed())
    decided(ledger, used(), first_offset=1)
    decided(ledger, used(), first_offset=2)
    decided(ledger, used(), first_offset=3)

    assert store.snapshots == [("acct-1", 2), ("acct-1", 4)]


def test_a_snapshot_that_cannot_be_saved_costs_nothing_but_a_longer_load():
    store = FakeStore(snapshot_every=1)
    store.snapshots_fail = True
    ledger = ledger_on(store)

    decided(ledger, renewed())

    assert store.events("acct-1") == ["CycleStarted"]
    store.snapshots_fail = False
    decided(ledger, used(), first_offset=1)
    assert store.snapshots == [("acct-1", 2)]


def test_committed_accounts_are_cached_and_forgotten_on_demand():
    store = FakeStore()
    ledger = ledger_on(store)
    decided(ledger, renewed())

    decided(ledger, used(), first_offset=1)
    assert store.loads["acct-1"] == 1  # the second batch used the cached account

    ledger.forget(["acct-1"])
    decided(ledger, used(), first_offset=2)
    assert store.loads["acct-1"] == 2


def test_the_cache_keeps_the_most_recently_used_accounts_only():
    store = FakeStore()
    ledger = ledger_on(store, cache_size=1)
    other = bought().model_copy(update={"account_id": "acct-2"})

    decided(ledger, renewed())
    decided(ledger, other, first_offset=1)  # acct-1 leaves the cache
    decided(ledger, used(), first_offset=2)

    assert store.loads["acct-1"] == 2


def test_one_command_of_every_kind_is_accepted_with_the_totals_the_broker_tests_expect():
    store = FakeStore()
    steps = every_kind("acct-1", T0)

    batch = decided(ledger_on(store), *(command for command, _ in steps))

    assert [(o.status, o.balance.total) for o in batch.outcomes] == [
        ("accepted", total) for _, total in steps
    ]
    assert "HoldExpired" in store.events("acct-1")


def test_a_command_stamped_far_ahead_of_its_record_is_refused_clock_skew_and_moves_nothing():
    store = FakeStore()
    ledger = ledger_on(store, max_clock_skew_s=300)
    from_2199 = used().model_copy(update={"occurred_at": T0.replace(year=2199)})
    arrived_ms = int(T0.timestamp() * 1000) + 86_400_000
    sent = [
        dataclasses.replace(record, timestamp_ms=arrived_ms)
        for record in records(renewed(), from_2199, used())
    ]

    batch = ledger.decide_batch(sent)
    ledger.commit(batch)

    assert [(o.status, o.code) for o in batch.outcomes] == [
        ("accepted", None),
        ("refused", "clock_skew"),
        ("accepted", None),
    ]
    assert batch.outcomes[1].balance == batch.outcomes[0].balance  # nothing moved
    assert store.events("acct-1") == ["CycleStarted", "CommandRefused", "ToolUsed"]
    refused = store.streams["acct-1"][1].event
    assert refused.occurred_at == T0  # the account's own time, not 2199


def test_every_outcome_built_as_trusted_is_what_the_model_would_validate():
    from events.outcomes import Outcome
    from tests.workload import command_log

    ledger = ledger_on(FakeStore())
    batch = ledger.decide_batch(records(*command_log(600, 30)))

    assert {o.status for o in batch.outcomes} == {"accepted", "refused"}
    for outcome in batch.outcomes:
        validated = Outcome.model_validate(outcome.model_dump())
        assert outcome == validated
        assert outcome.model_dump_json() == validated.model_dump_json()
