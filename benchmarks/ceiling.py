"""The Kafka ceiling (issue 15): the benchmark's messages produced to a fresh topic, consumed
and answered (one reply record each) by raw aiokafka with no ledger work, first send to last
reply. What the broker and aiokafka allow on this machine; the ledger cannot beat it.

    python -m benchmarks.ceiling BOOTSTRAP IN_TOPIC OUT_TOPIC PARTITIONS   # the responder

The responder runs as its own process, as the ledger does; it prints ``ready`` once it holds
every partition of the input topic, and the clock starts after that.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

from aiokafka import TopicPartition

from benchmarks import producers
from benchmarks.mix import Message
from events.topics import COMMANDS, OUTCOMES, TopicSpec
from services import kafka_clients
from services.settings import REPO, Settings
from services.topics import delete_topics, ensure_topics

REPLY = b'{"status":"accepted"}'
STALL_S = 60.0


async def ceiling(
    settings: Settings, shares: list[list[Message]], sent: producers.Sent
) -> dict[str, Any]:
    """Commands per second from the first send to the last reply, through a bare responder."""
    run = uuid.uuid4().hex[:6]
    specs = (
        TopicSpec(f"ceiling-{run}-in", COMMANDS.partitions),
        TopicSpec(f"ceiling-{run}-out", OUTCOMES.partitions),
    )
    inbox, outbox = (spec.name(settings.topic_prefix) for spec in specs)
    await ensure_topics(settings, specs)
    responder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.ceiling",
            settings.kafka_bootstrap_servers,
            inbox,
            outbox,
            str(COMMANDS.partitions),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert responder.stdout is not None
        await asyncio.to_thread(responder.stdout.readline)  # "ready"
        total = sum(map(len, shares))
        replies = asyncio.create_task(_count(settings, outbox, OUTCOMES.partitions, total))
        began = await producers.flood(settings, inbox, shares, sent)
        last, replied = await replies
    finally:
        responder.terminate()
        responder.wait(timeout=30)
        await delete_topics(settings, specs)
    return {
        "commands": total,
        "replies_missing": total - replied,
        "seconds": round(last - began, 2),
        "commands_per_s": round(replied / (last - began)),
    }


async def _count(settings: Settings, topic: str, partitions: int, total: int) -> tuple[float, int]:
    """When the last of ``total`` replies arrived (``time.monotonic``), and how many did:
    fewer if none came for ``STALL_S``."""
    consumer = kafka_clients.consumer(settings)
    await consumer.start()
    try:
        wanted = [TopicPartition(topic, n) for n in range(partitions)]
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        seen, last = 0, time.monotonic()
        while seen < total and time.monotonic() - last < STALL_S:
            batch = await consumer.getmany(timeout_ms=200)
            if arrived := sum(map(len, batch.values())):
                seen, last = seen + arrived, time.monotonic()
        return last, seen
    finally:
        await consumer.stop()


async def respond(bootstrap: str, inbox: str, outbox: str, partitions: int) -> None:
    """Answer every record of ``inbox`` with one record on ``outbox``, with the same key."""
    settings = Settings(kafka_bootstrap_servers=bootstrap)  # the rest from the environment
    consumer = kafka_clients.consumer(settings, enable_auto_commit=False)
    producer = kafka_clients.producer(settings, acks="all", enable_idempotence=True, linger_ms=5)
    await asyncio.gather(consumer.start(), producer.start())
    wanted = [TopicPartition(inbox, n) for n in range(partitions)]
    consumer.assign(wanted)
    await consumer.seek_to_beginning(*wanted)
    print("ready", flush=True)
    while True:
        batch = await consumer.getmany(timeout_ms=200, max_records=2000)
        for records in batch.values():
            for record in records:
                await producer.send(outbox, REPLY, key=record.key)


if __name__ == "__main__":
    bootstrap, inbox, outbox, partitions = sys.argv[1:5]
    asyncio.run(respond(bootstrap, inbox, outbox, int(partitions)))
