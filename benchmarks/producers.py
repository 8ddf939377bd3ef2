"""Raw aiokafka producers for the benchmarks: pre-encoded messages, sent as fast as the
producers can (``flood``) or at a steady offered rate (``paced``).

Each producer is idempotent with ``acks=all``, as the ledger's own clients are. Shares are
split by account (``mix.by_producer``), so one account's commands keep their order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from benchmarks.mix import Message
from services import kafka_clients
from services.settings import Settings

TICK_S = 0.002  # the paced producer's wake-ups: a message waits for one at most
Sent = Callable[[int], None]
"""Called with how many messages were handed to the producers so far."""


def producer(settings: Settings) -> AIOKafkaProducer:
    return kafka_clients.producer(
        settings,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


async def flood(settings: Settings, topic: str, shares: list[list[Message]], sent: Sent) -> float:
    """Send every share from its own producer at once; returns when the first send began
    (``time.monotonic``). Returns after every message is acknowledged."""
    producers = [producer(settings) for _ in shares]
    await asyncio.gather(*(p.start() for p in producers))
    counted = [0]

    async def send(p: AIOKafkaProducer, share: list[Message]) -> None:
        for n, (key, value) in enumerate(share):
            await p.send(topic, value, key=key)
            if n % 1000 == 999:
                counted[0] += 1000
                sent(counted[0])
        await p.flush()

    try:
        began = time.monotonic()
        await asyncio.gather(*(send(p, share) for p, share in zip(producers, shares, strict=True)))
        sent(sum(map(len, shares)))
    finally:
        await asyncio.gather(*(p.stop() for p in producers))
    return began


async def paced(
    settings: Settings, topic: str, messages: list[Message], rate: float, sent: Sent
) -> list[float]:
    """Send ``messages`` in order at ``rate`` per second from one producer (an account's
    commands keep their order); returns each message's send time (``time.monotonic``).

    The producer wakes every ``TICK_S`` and sends what has fallen due since: a wake-up per
    message (thousands a second) was CPU the harness took from the processes it measures,
    on the same two cores (BENCHMARKS.md, issue 26)."""
    p = producer(settings)
    await p.start()
    times: list[float] = []
    try:
        began, n = time.monotonic(), 0
        while n < len(messages):
            due = min(len(messages), int((time.monotonic() - began) * rate) + 1)
            for key, value in messages[n:due]:
                times.append(time.monotonic())
                await p.send(topic, value, key=key)
            if due // 100 > n // 100:
                sent(due)
            n = due
            await asyncio.sleep(TICK_S)
        await p.flush()
        sent(len(messages))
    finally:
        await p.stop()
    return times
