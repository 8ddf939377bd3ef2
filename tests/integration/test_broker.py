"""The real Kafka broker: keyed messages round-trip with aiokafka and FastStream, topics are
declared in code and created idempotently, the balances topic is compacted."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from events.topics import ALL_TOPICS, BALANCES, COMMANDS
from services.topics import ensure_topics


async def test_a_keyed_message_round_trips_through_the_broker_with_aiokafka(settings):
    topic = settings.topic["commands"]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(topic, f"m{i}".encode(), key=b"acct-42") for i in range(5)
        ]
        other = await producer.send_and_wait(topic, b"x", key=b"acct-7")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        received = []
        async with asyncio.timeout(15):
            while len(received) < 6:
                batch = await consumer.getmany(timeout_ms=500)
                received += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()

    ours = [r for r in received if r.key == b"acct-42"]
    assert [r.value for r in ours] == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert {r.partition for r in ours} == {sent[0].partition}
    assert {meta.partition for meta in sent} == {sent[0].partition}
    assert other.topic == topic


async def test_faststream_publishes_and_consumes_keyed_messages_on_the_real_broker(
    settings, run_id
):
    broker = KafkaBroker(settings.kafka_bootstrap_servers)
    topic = settings.topic["outcomes"]
    seen: asyncio.Queue[tuple[bytes | None, int, dict]] = asyncio.Queue()

    @broker.subscriber(topic, group_id=f"test-faststream-{run_id}", auto_offset_reset="earliest")
    async def on_outcome(body: dict, msg: KafkaMessage) -> None:
        await seen.put((msg.raw_message.key, msg.raw_message.partition, body))

    async with broker:
        await broker.start()
        for n in range(3):
            await broker.publish({"n": n}, topic, key=b"acct-faststream")
        async with asyncio.timeout(20):
            got = [await seen.get() for _ in range(3)]

    assert [body["n"] for _, _, body in got] == [0, 1, 2]
    assert {key for key, _, _ in got} == {b"acct-faststream"}
    assert len({partition for _, partition, _ in got}) == 1


async def test_creating_the_topics_again_changes_nothing(settings):
    assert set((await ensure_topics(settings)).values()) == {"exists"}


async def test_topics_have_their_declared_partitions_and_the_balances_topic_is_compacted(settings):
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(
            [spec.name(settings.topic_prefix) for spec in ALL_TOPICS]
        )
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic["balances"])]
        )
    finally:
        await admin.close()

    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions[settings.topic["commands"]] == COMMANDS.partitions >= 8
    assert partitions == {spec.name(settings.topic_prefix): spec.partitions for spec in ALL_TOPICS}
    (resource,) = configs[0].resources
    values = {entry[0]: entry[1] for entry in resource[4]}
    assert values["cleanup.policy"] == BALANCES.configs["cleanup.policy"] == "compact"
