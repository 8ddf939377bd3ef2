"""A page's messages sent as one record batch per partition, and every acknowledgement awaited.

The projector publishes thousands of small messages per page and waits for all of them before
it commits. ``AIOKafkaProducer.send`` costs a future, an accumulator look-up and a partitioner
call per message (the profile's largest Kafka item); building the batches here and handing
each to ``send_batch`` costs one future per partition. Partitions are chosen as ``send`` chooses
them (``DefaultPartitioner``: murmur2 of the key over the sorted partitions, as the Java client
does), so an account's updates always land on the same partition of the compacted topic.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

Message = tuple[str, bytes, bytes]  # (topic, key, value)
HEADERS = [("content-type", b"application/json")]
_partitioner = DefaultPartitioner()


async def publish(producer: AIOKafkaProducer, messages: Iterable[Message]) -> None:
    """Send ``messages`` and wait until the broker has acknowledged every one; raises what
    the producer raises for any of them (a message too large is refused by the broker, as
    with ``send``). Messages of one key keep their order."""
    partitions: dict[str, list[int]] = {}
    grouped: dict[tuple[str, int], list[tuple[bytes, bytes]]] = defaultdict(list)
    for topic, key, value in messages:
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        ids = partitions[topic]
        grouped[topic, _partitioner(key, ids, ids)].append((key, value))
    sent = []
    for (topic, partition), records in grouped.items():
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(timestamp=None, key=key, value=value, headers=HEADERS) is None:
                sent.append(await _sent(producer, batch, topic, partition))
                batch = producer.create_batch()  # a fresh batch always takes its first record
                added = batch.append(timestamp=None, key=key, value=value, headers=HEADERS)
                assert added is not None
        sent.append(await _sent(producer, batch, topic, partition))
    await asyncio.gather(*sent)


async def _sent(
    producer: AIOKafkaProducer, batch: object, topic: str, partition: int
) -> asyncio.Future[object]:
    batch.close()  # type: ignore[attr-defined]
    future: asyncio.Future[object] = await producer.send_batch(batch, topic, partition=partition)
    return future
