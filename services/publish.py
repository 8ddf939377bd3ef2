"""A page's messages sent as one record batch per partition, and every acknowledgement awaited.

The projector publishes thousands of small messages per page, the ledger hundreds of outcomes
per batch, and each waits for all of them before it commits. ``AIOKafkaProducer.send`` costs a
future, an accumulator look-up and a partitioner call per message (the profile's largest Kafka
item); building the batches here and handing each to ``send_batch`` costs one future per
partition. Partitions are chosen as ``send`` chooses them (``DefaultPartitioner``: murmur2 of
the key over the sorted partitions, as the Java client does), so an account's updates always
land on the same partition of the compacted topic. aiokafka's murmur2 is pure Python (about
2 µs a key, for every outcome and every balance): a key's slot is remembered (``slot``).
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2

from services import kafka_clients
from services.settings import Settings

Message = tuple[str, bytes, bytes]  # (topic, key, value)
Headers = list[tuple[str, bytes]]
Routed = tuple[str, int | None, bytes | None, bytes, Headers]  # partition None: by the key
JSON = ("content-type", b"application/json")
HEADERS: Headers = [JSON]
BATCH_BYTES = 512 * 1024  # a producer's batches: under the broker's message.max.bytes (1 MB)
_partitioner = DefaultPartitioner()


def batch_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """A producer for ``publish``: idempotent, acknowledged by every replica, and with large
    batches, since an idempotent producer has one batch per partition in flight and the
    default 16 KB would cost a page or a ledger batch several round trips per partition."""
    return kafka_clients.producer(
        settings,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_batch_size=BATCH_BYTES,
    )


async def publish(producer: AIOKafkaProducer, messages: Iterable[Message]) -> None:
    """Send ``messages`` and wait until the broker has acknowledged every one; raises what
    the producer raises for any of them (a message too large is refused by the broker, as
    with ``send``). Messages of one key keep their order."""
    await publish_routed(producer, ((t, None, k, v, HEADERS) for t, k, v in messages))


async def publish_routed(producer: AIOKafkaProducer, messages: Iterable[Routed]) -> None:
    """``publish`` for messages that may name their partition (a reply) and carry their own
    headers (the ledger's outcomes and dead letters)."""
    partitions: dict[str, list[int]] = {}
    grouped: dict[tuple[str, int], list[tuple[bytes | None, bytes, Headers]]] = defaultdict(list)
    for topic, partition, key, value, headers in messages:
        if partition is None:
            if topic not in partitions:
                partitions[topic] = sorted(await producer.partitions_for(topic))
            ids = partitions[topic]
            partition = _partitioner(None, ids, ids) if key is None else ids[slot(key, len(ids))]
        grouped[topic, partition].append((key, value, headers))
    sent = []
    for (topic, partition), records in grouped.items():
        batch = producer.create_batch()
        for key, value, headers in records:
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                sent.append(await _sent(producer, batch, topic, partition))
                batch = producer.create_batch()  # a fresh batch always takes its first record
                added = batch.append(timestamp=None, key=key, value=value, headers=headers)
                assert added is not None
        sent.append(await _sent(producer, batch, topic, partition))
    await asyncio.gather(*sent)


@functools.lru_cache(maxsize=1 << 14)  # recent accounts' keys: a few MB at most
def slot(key: bytes, partitions: int) -> int:
    """Which of ``partitions`` (sorted) ``DefaultPartitioner`` gives ``key``."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


async def _sent(
    producer: AIOKafkaProducer, batch: object, topic: str, partition: int
) -> asyncio.Future[object]:
    batch.close()  # type: ignore[attr-defined]
    future: asyncio.Future[object] = await producer.send_batch(batch, topic, partition=partition)
    return future
