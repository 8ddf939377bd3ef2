"""One topic read in the background, every partition, without a consumer group.

The API's balance and alert feeds, the client's outcome reader, the tests' and the benchmark's
readers all follow a topic this way: each process must see every account, so no group shares the
partitions out, and nothing is committed. A reader that follows what happens *from now on*
starts at the topic's end, resolved before ``start`` returns (so a record sent after it is never
missed); one that wants everything starts at the beginning. A failed fetch is retried with
back-off; the position is kept, so no record is missed, and ``resumed`` (if given) is called
once the topic answers again, for a reader that wants to check what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from events.topics import ALL_TOPICS
from services import kafka_clients
from services.settings import Settings

Deliver = Callable[[ConsumerRecord[Any, Any]], None]
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 5.0


class TopicTail:
    """Hands every record of the topic with role ``role`` to ``deliver``, in partition order."""

    def __init__(
        self,
        settings: Settings,
        role: str,
        deliver: Deliver,
        *,
        from_end: bool = True,
        poll_ms: int = 500,
        client_id: str | None = None,
        log: logging.Logger | None = None,
        resumed: Callable[[], None] | None = None,
        **consumer_options: Any,
    ) -> None:
        self.topic = settings.topic[role]
        self.partitions = next(spec.partitions for spec in ALL_TOPICS if spec.role == role)
        self.deliver, self.from_end, self.poll_ms = deliver, from_end, poll_ms
        self.resumed = resumed
        self.log = log or logging.getLogger("kalema")
        self.consumer = kafka_clients.consumer(
            settings,
            enable_auto_commit=False,
            client_id=client_id or "kalema",
            **({"group_id": None} | consumer_options),  # a group: see ``ReplyInbox``
        )
        self.task: asyncio.Task[None] | None = None
        self.errors = 0  # failed fetches so far (each retried)

    async def start(self) -> None:
        """Connect, take a position, and read in the background."""
        await self.open()
        self.read()

    async def open(self) -> None:
        """Connect and take the starting position (the end is resolved now)."""
        await self.consumer.start()
        # The partitions as declared (``events.topics``); ``ensure_topics`` created them so.
        partitions = [TopicPartition(self.topic, n) for n in range(self.partitions)]
        self.consumer.assign(partitions)
        if self.from_end:
            await self.consumer.seek_to_end(*partitions)
            for partition in partitions:  # resolve the end now, before anything is sent
                await self.consumer.position(partition)
        else:
            await self.consumer.seek_to_beginning(*partitions)

    def read(self) -> asyncio.Task[None]:
        """Read in the background from the position held (again, if the reader died)."""
        self.task = asyncio.create_task(self._read())
        return self.task

    async def stop(self) -> None:
        if self.task is not None:
            task, self.task = self.task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.consumer.stop()

    async def _read(self) -> None:
        delay_s = RETRY_FIRST_S
        failing = False
        while True:
            try:
                batch = await self.consumer.getmany(timeout_ms=self.poll_ms)
            except Exception:
                self.errors += 1
                failing = True
                self.log.exception("reading %s failed; retrying in %.1fs", self.topic, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, RETRY_MAX_S)
                continue
            delay_s = RETRY_FIRST_S
            if failing and self.resumed is not None:
                self.resumed()
            failing = False
            for records in batch.values():
                for record in records:
                    self.deliver(record)
