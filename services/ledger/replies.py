"""Reply routing: an outcome goes back to the partition its command asked for.

Request-reply over Kafka as Spring Kafka's ``ReplyingKafkaTemplate`` does it: the client stamps
each command with ``kafka_replyTopic`` (the topic name), ``kafka_replyPartition`` (a 4-byte
big-endian int) and ``kafka_correlationId`` (the ``command_id``); the ledger publishes that
command's outcome to that topic and partition, so each client instance reads only its own
outcomes instead of every outcome of every account.

A reply request is only ever honoured for the configured replies topic and a partition that
exists (the count is looked up from the broker, again when a higher one is asked for, at most
every ``LOOKUP_EVERY_S``). Anything else (another topic, a partition out of range, garbage
bytes, a null value) is no error for the command: its outcome simply goes to the outcomes
topic, as for a command that asked for nothing (billing's feed, ``send``).

The ledger matches an outcome to its record by (record key, correlation id) = (the outcome's
``account_id``, ``command_id``), so the decision loop needs no change: a decided command's key
is its account (a mismatch is dead-lettered). Each outcome is still published exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services import kafka_clients
from services.settings import Settings

log = logging.getLogger("kalema.ledger")

REPLY_TOPIC = "kafka_replyTopic"
REPLY_PARTITION = "kafka_replyPartition"
CORRELATION_ID = "kafka_correlationId"
LOOKUP_EVERY_S = 30.0
Headers = Sequence[tuple[str, bytes | None]]
Routes = dict[tuple[str, str], deque[int | None]]


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """Where a command asked its outcome to go, and the id it will be known by."""

    topic: str
    partition: int
    correlation_id: str


def reply_headers(topic: str, partition: int, correlation_id: str) -> list[tuple[str, bytes]]:
    """The headers a client puts on a command to have its outcome on ``topic``/``partition``."""
    return [
        (REPLY_TOPIC, topic.encode()),
        (REPLY_PARTITION, struct.pack(">i", partition)),
        (CORRELATION_ID, correlation_id.encode()),
    ]


def requested_reply(headers: Headers) -> ReplyTo | None:
    """The reply a record's headers ask for, or None if they ask for none or cannot be read.
    Never raises: headers are the producer's, and bad ones only cost the reply."""
    found: dict[str, bytes | None] = {}
    for name, value in headers:
        if name in (REPLY_TOPIC, REPLY_PARTITION, CORRELATION_ID):
            found[name] = value
    topic, partition, correlation = (
        found.get(REPLY_TOPIC),
        found.get(REPLY_PARTITION),
        found.get(CORRELATION_ID),
    )
    if topic is None or partition is None or correlation is None or len(partition) != 4:
        return None
    try:
        return ReplyTo(topic.decode(), struct.unpack(">i", partition)[0], correlation.decode())
    except UnicodeDecodeError:
        return None


class Record(Protocol):
    @property
    def key(self) -> bytes | None: ...
    @property
    def headers(self) -> Headers: ...


class ReplyRouter:
    """The ledger's side: which partition of the replies topic each outcome of a batch goes to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic["replies"]
        self.partitions = 0  # known to exist; 0 until looked up
        self._looked_up_at: float | None = None

    async def routes(self, records: Iterable[Record]) -> Routes:
        """For each (account, command id) that asked for a reply, the partitions to answer
        on, in record order (None: the request was invalid, answer on the outcomes topic)."""
        asked: list[tuple[tuple[str, str], int]] = []
        for record in records:
            reply = requested_reply(record.headers) if record.headers else None
            if reply is None or reply.topic != self.topic or record.key is None:
                continue
            account_id = record.key.decode(errors="replace")
            asked.append(((account_id, reply.correlation_id), reply.partition))
        if not asked:
            return {}
        if max(partition for _, partition in asked) >= self.partitions:
            await self._look_up()
        routes: Routes = {}
        for command, partition in asked:
            valid = 0 <= partition < self.partitions
            routes.setdefault(command, deque()).append(partition if valid else None)
        return routes

    async def _look_up(self) -> None:
        """How many partitions the replies topic has (rarely: at most every 30 s)."""
        now = asyncio.get_running_loop().time()
        if self._looked_up_at is not None and now - self._looked_up_at < LOOKUP_EVERY_S:
            return
        self._looked_up_at = now
        admin = kafka_clients.admin(self.settings)
        try:
            await admin.start()
            [described] = await admin.describe_topics([self.topic])
            if described["error_code"] == 0:
                self.partitions = len(described["partitions"])
        except Exception:  # no replies this time: the outcomes topic still carries them
            log.exception("cannot look up %s; outcomes go to the outcomes topic", self.topic)
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


def reply_partition(routes: Routes, account_id: str, command_id: str) -> int | None:
    """The partition of the replies topic this outcome goes to, or None for the outcomes topic.
    Each request answers one outcome (a command sent twice in a batch is answered twice)."""
    wanted = routes.get((account_id, command_id))
    return wanted.popleft() if wanted else None
