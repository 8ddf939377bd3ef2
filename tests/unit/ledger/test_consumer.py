"""The ledger's Kafka edge without a broker: what it does when a batch fails while the group
takes partitions away (the real-broker paths are in tests/integration)."""

from __future__ import annotations

import gc

from aiokafka import ConsumerRecord, TopicPartition

from services.ledger.consumer import LedgerConsumer
from services.ledger.ledger import Ledger
from services.settings import Settings
from tests.unit.core.scenario import ACCOUNT, CATALOG, bought, renewed, used
from tests.unit.ledger.fakes import TOPIC, FakeStore, records


async def test_a_batch_failing_after_its_partition_was_revoked_is_retried_not_a_key_error():
    edge = LedgerConsumer(Settings(), Ledger(FakeStore(), CATALOG, max_message_bytes=65536))
    partition = TopicPartition(TOPIC, 0)
    edge.positions[partition] = 0

    async def published(batch, routes):
        edge.revoked({partition})  # the group rebalanced while the batch was in flight
        raise ConnectionError("the broker is gone")

    edge._publish = published  # type: ignore[method-assign]
    (record,), _ = consumer_records(renewed())

    await edge._process({partition: [record]})

    assert partition in edge.unsure and edge.failures[partition] == 1


class _Fetched:
    """A fetch's records, as FastStream hands a batch over."""

    def __init__(self, records: list[ConsumerRecord]) -> None:
        self.raw_message = tuple(records)


class _Consumer:
    """A consumer whose next fetch answers with ``waiting`` (what reached the broker while
    the last batch was being processed)."""

    def __init__(self, waiting: list[ConsumerRecord]) -> None:
        self.waiting = waiting
        self.asked: list[int] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        self.asked.append(max_records)
        taken, self.waiting = self.waiting[:max_records], self.waiting[max_records:]
        return {TopicPartition(TOPIC, 0): taken} if taken else {}


async def test_commands_sent_during_a_batch_are_decided_in_the_next_not_the_one_after():
    """The client sends its next fetch only once the last answer is taken, so the batch it
    hands over was fetched when the batch before began: at 2,000/s a command waited for
    one and a half batches (issue 15)."""
    store = FakeStore()
    settings = Settings(ledger_batch_max_records=500)
    edge = LedgerConsumer(settings, Ledger(store, CATALOG, max_message_bytes=65536))
    edge.positions[TopicPartition(TOPIC, 0)] = 0
    edge._publish = _published  # type: ignore[method-assign]
    edge._publish_heads = heads = _Heads()  # type: ignore[method-assign]
    handed, meanwhile = consumer_records(
        renewed(), bought("small", at=1), used("keyword_suggestions", at=2)
    )
    edge.subscriber.consumer = consumer = _Consumer(meanwhile)  # type: ignore[assignment]

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert edge.batches_committed == 1
    assert store.events(ACCOUNT) == ["CycleStarted", "PackagePurchased", "ToolUsed"]
    assert consumer.asked == [500 - len(handed)]
    await edge.close()  # waits for the batch's chain heads
    assert [(h.account_id, h.version) for h in heads.published] == [(ACCOUNT, 3)]


async def _published(batch, routes) -> None:
    return None


class _Heads:
    """The chain heads the edge publishes after a commit."""

    def __init__(self) -> None:
        self.published: list = []

    async def __call__(self, heads) -> None:
        self.published += heads


def consumer_records(first, *meanwhile) -> tuple[list[ConsumerRecord], list[ConsumerRecord]]:
    """The first command as the batch handed over, the others as fetched meanwhile."""
    found = [
        ConsumerRecord(TOPIC, 0, r.offset, 0, 0, r.key, r.value, None, len(r.key), len(r.value), [])
        for r in records(first, *meanwhile)
    ]
    return found[:1], found[1:]


async def test_a_failing_catch_up_fetch_still_decides_the_batch_in_hand():
    """The batch FastStream handed over must be decided whatever the extra fetch does, or
    its records would be passed over (the next batch starts after them)."""
    store = FakeStore()
    edge = LedgerConsumer(Settings(), Ledger(store, CATALOG, max_message_bytes=65536))
    edge.positions[TopicPartition(TOPIC, 0)] = 0
    edge._publish = _published  # type: ignore[method-assign]
    edge._publish_heads = _Heads()  # type: ignore[method-assign]
    handed, _ = consumer_records(renewed())
    edge.subscriber.consumer = _Failing()  # type: ignore[assignment]

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert store.events(ACCOUNT) == ["CycleStarted"]


class _Failing:
    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        raise ConnectionError("the broker is gone")

    def assignment(self) -> set[TopicPartition]:
        return set()  # the group took the partitions away meanwhile: nothing to seek


async def test_the_collector_stays_paused_from_a_batchs_decision_to_its_commit_and_resumes_after():
    """Between the decision and the commit the collector scanned the batch's objects for
    nothing to free (about 2 µs a command, BENCHMARKS.md); a failing batch resumes it too."""
    store = FakeStore()
    edge = LedgerConsumer(Settings(), Ledger(store, CATALOG, max_message_bytes=65536))
    edge.positions[TopicPartition(TOPIC, 0)] = 0
    edge._publish_heads = _Heads()  # type: ignore[method-assign]
    seen: list[bool] = []

    async def published(batch, routes) -> None:
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise ConnectionError("the broker is gone")

    edge._publish = published  # type: ignore[method-assign]
    first, second = consumer_records(renewed(), bought("small", at=1))
    edge.subscriber.consumer = _Failing()  # type: ignore[assignment]

    await edge.on_batch(None, _Fetched(first))  # type: ignore[arg-type]
    committed = gc.isenabled()
    await edge.on_batch(None, _Fetched(second))  # type: ignore[arg-type]

    assert seen == [False, False] and committed and gc.isenabled()
    assert store.events(ACCOUNT) == ["CycleStarted"]


class _Drip(_Consumer):
    """A consumer whose every fetch answers with one record: commands arriving one by one."""

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        self.asked.append(max_records)
        taken, self.waiting = self.waiting[:1], self.waiting[1:]
        return {TopicPartition(TOPIC, 0): taken} if taken else {}


def _dripping(settings: Settings, handed: int) -> tuple[LedgerConsumer, FakeStore, _Drip, list]:
    """An edge handed ``handed`` of four commands, the others arriving one fetch at a time."""
    store = FakeStore()
    edge = LedgerConsumer(settings, Ledger(store, CATALOG, max_message_bytes=65536))
    edge.positions[TopicPartition(TOPIC, 0)] = 0
    edge._publish = _published  # type: ignore[method-assign]
    edge._publish_heads = _Heads()  # type: ignore[method-assign]
    first, rest = consumer_records(
        renewed(),
        bought("small", at=1),
        used("keyword_suggestions", at=2),
        used("keyword_suggestions", at=3),
    )
    records = first + rest
    edge.subscriber.consumer = drip = _Drip(records[handed:])  # type: ignore[assignment]
    return edge, store, drip, records[:handed]


async def test_a_lone_command_does_not_linger_its_batch_takes_one_fetch_more_and_goes():
    """A command with none beside it is no stream: it waits for no linger (a client sending
    one command at a time would pay it on each)."""
    edge, store, drip, handed = _dripping(Settings(ledger_batch_linger_ms=5_000), handed=1)

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert store.events(ACCOUNT) == ["CycleStarted", "PackagePurchased"]
    assert len(drip.waiting) == 2


async def test_a_lingering_batch_takes_commands_as_they_arrive_and_stops_once_full():
    """With ``ledger_batch_linger_ms`` a batch handed over with several commands goes on
    fetching what arrives, as a producer's ``linger.ms`` fills a record batch, so that a
    steady stream pays a batch's fixed cost (a commit, a round of acknowledgements) once for
    many commands; a full batch leaves at once (the longest linger allowed, five seconds,
    would show in the test's time)."""
    settings = Settings(ledger_batch_max_records=4, ledger_batch_linger_ms=5_000)
    edge, store, drip, handed = _dripping(settings, handed=2)

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert edge.batches_committed == 1
    assert store.events(ACCOUNT) == ["CycleStarted", "PackagePurchased", "ToolUsed", "ToolUsed"]
    assert drip.asked == [2, 1]


async def test_a_batch_that_holds_its_minimum_bytes_does_not_linger_for_more():
    """Under load a batch is large without waiting: lingering would add to every command's
    wait and save nothing."""
    settings = Settings(ledger_batch_linger_ms=5_000, ledger_batch_min_bytes=1)
    edge, store, drip, handed = _dripping(settings, handed=2)

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert store.events(ACCOUNT) == ["CycleStarted", "PackagePurchased", "ToolUsed"]
    assert drip.asked == [settings.ledger_batch_max_records - 2]  # the room left


async def test_with_no_linger_a_batch_of_several_commands_takes_one_fetch_more_and_goes():
    settings = Settings(ledger_batch_linger_ms=0)
    edge, store, drip, handed = _dripping(settings, handed=2)

    await edge.on_batch(None, _Fetched(handed))  # type: ignore[arg-type]

    assert store.events(ACCOUNT) == ["CycleStarted", "PackagePurchased", "ToolUsed"]
    assert drip.asked == [settings.ledger_batch_max_records - 2]  # the room left
