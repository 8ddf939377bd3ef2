"""Publishing a page in record batches (services/publish.py) on the real broker: every key
lands on the partition ``send`` would choose, in order, with the content-type header."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from aiokafka import AIOKafkaProducer

from services.publish import HEADERS, publish
from services.settings import Settings
from services.tail import TopicTail
from services.topics import delete_topics, ensure_topics

KEYS = [f"acct-{n}".encode() for n in range(12)]


async def test_a_page_sent_in_batches_lands_where_send_puts_each_key_and_keeps_key_order():
    settings = Settings(topic_prefix=f"test.publish.{uuid.uuid4().hex[:10]}")
    await ensure_topics(settings)
    topic = settings.topic["balances"]
    producer = AIOKafkaProducer(  # batches of 1 KB: many batches per partition
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        max_batch_size=1024,
    )
    seen: dict[bytes, list[tuple[int, bytes, list]]] = defaultdict(list)
    tail = TopicTail(
        settings,
        "balances",
        lambda r: seen[r.key].append((r.partition, r.value, list(r.headers))),
        poll_ms=50,
    )
    await producer.start()
    try:
        await tail.start()
        page = [(topic, KEYS[n % 12], b'{"n":%d}' % n) for n in range(300)]
        await publish(producer, page)
        sent = {key: await (await producer.send(topic, b"{}", key=key)) for key in KEYS}
        async with asyncio.timeout(20):
            while sum(len(records) for records in seen.values()) < len(page) + len(KEYS):
                await asyncio.sleep(0.05)
    finally:
        await tail.stop()
        await producer.stop()
        await delete_topics(settings)

    for n, key in enumerate(KEYS):
        published = seen[key][:-1]  # the last is the probe sent with ``send``
        assert {partition for partition, _, _ in published} == {sent[key].partition}
        assert [value for _, value, _ in published] == [b'{"n":%d}' % m for m in range(n, 300, 12)]
        assert all(headers == HEADERS for _, _, headers in published)
