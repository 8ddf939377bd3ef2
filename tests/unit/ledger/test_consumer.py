"""The ledger's Kafka edge without a broker: what it does when a batch fails while the group
takes partitions away (the real-broker paths are in tests/integration)."""

from __future__ import annotations

from aiokafka import TopicPartition

from services.ledger.consumer import LedgerConsumer
from services.ledger.service import Ledger
from services.settings import Settings
from tests.unit.core.scenario import CATALOG, renewed
from tests.unit.ledger.fakes import TOPIC, FakeStore, records


async def test_a_batch_failing_after_its_partition_was_revoked_is_retried_not_a_key_error():
    edge = LedgerConsumer(Settings(), Ledger(FakeStore(), CATALOG, max_message_bytes=65536))
    partition = TopicPartition(TOPIC, 0)
    edge.positions[partition] = 0

    async def published(batch, routes):
        edge.revoked({partition})  # the group rebalanced while the batch was in flight
        raise ConnectionError("the broker is gone")

    edge._publish = published  # type: ignore[method-assign]
    (record,) = records(renewed())

    await edge._process({partition: [record]})

    assert partition in edge.unsure and edge.failures[partition] == 1
