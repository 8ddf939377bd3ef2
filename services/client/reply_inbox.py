"""The client's own reply partitions: where the ledger answers this client instance alone.

Why a consumer group on the replies topic, rather than a partition number in each worker's
settings: the group coordinator hands every partition to exactly one live member, so no two
running clients share a reply partition, with no setting to get wrong, nothing to clash after
a copy-pasted deployment, and a crashed client's partitions given to others once its session
times out. The client stamps each command with one of the partitions it holds now
(``services/ledger/replies.py``). When the group rebalances (a client starts or stops), the
client sends again every command still waiting whose partition it lost; commands are
idempotent by ``command_id``, so the repeat is answered with the first outcome and nothing is
decided twice. Nothing is committed: a client wants only outcomes from the moment it holds a
partition, read from the partition's end then (or from where it was, if it kept it).

A group can give partitions to at most as many members as there are partitions: keep the
replies topic's partitions (``KALEMA_REPLIES_PARTITIONS``, 32) above the number of client
instances that run at once. An instance given none waits (each call within its own time).
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from services.settings import Settings
from services.tail import Deliver, TopicTail

Rebalanced = Callable[[tuple[int, ...]], None]


class ReplyInbox(TopicTail):
    """Reads, and hands to ``deliver``, the replies on the partitions this instance holds."""

    def __init__(
        self, settings: Settings, deliver: Deliver, rebalanced: Rebalanced, log: logging.Logger
    ) -> None:
        topic = settings.topic["replies"]
        super().__init__(
            settings,
            "replies",
            self._delivered,
            poll_ms=200,
            client_id="kalema-client",
            log=log,
            group_id=f"{topic}.clients",
            heartbeat_interval_ms=1000,  # a member sees a rebalance within a second
            session_timeout_ms=10_000,
        )
        self._deliver, self._rebalanced = deliver, rebalanced
        self.owned: tuple[int, ...] = ()
        self.assigned = asyncio.Event()  # set while this instance holds a partition
        self.consumed = 0  # replies read (each one this instance's: none is anyone else's)
        self._next: dict[int, int] = {}  # per held partition, the next offset to read

    async def open(self) -> None:
        """Connect and join the group; partitions come in the background (``until_assigned``)."""
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=_Listener(self))

    async def until_assigned(self, timeout_s: float) -> bool:
        """Wait, at most ``timeout_s``, until this instance holds a reply partition."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.assigned.wait()
        except TimeoutError:
            return False
        return True

    def pick(self, account_id: str) -> int | None:
        """The held partition an account's replies come back on (None while none is held).
        One per account, as on the outcomes topic, so an account's outcomes arrive in the
        order they were decided (a first answer before its repeat)."""
        owned = self.owned
        return owned[zlib.crc32(account_id.encode()) % len(owned)] if owned else None

    def revoked(self) -> None:
        self.owned = ()
        self.assigned.clear()

    async def assign(self, partitions: set[TopicPartition]) -> None:
        """Take the new partitions at their end now (so no reply sent from now on is missed);
        a partition held before the rebalance goes on from where it was."""
        try:
            ends: dict[TopicPartition, int] = (
                await self.consumer.end_offsets(list(partitions)) if partitions else {}
            )
        except Exception:
            self.log.exception("cannot look up the ends of %s; reading from the end", partitions)
            await self.consumer.seek_to_end(*partitions)
            ends = {}
        kept: dict[int, int] = {}
        for tp in partitions:
            offset = self._next.get(tp.partition, ends.get(tp))
            if offset is not None:
                self.consumer.seek(tp, offset)
                kept[tp.partition] = offset
        self._next = kept
        self.owned = tuple(sorted(tp.partition for tp in partitions))
        if self.owned:
            self.assigned.set()
        else:
            self.log.warning(
                "no partition of %s for this client: more clients than its partitions "
                "(raise KALEMA_REPLIES_PARTITIONS); calls wait for one",
                self.topic,
            )
        self._rebalanced(self.owned)

    def _delivered(self, record: ConsumerRecord[Any, Any]) -> None:
        self._next[record.partition] = record.offset + 1
        self.consumed += 1
        self._deliver(record)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, inbox: ReplyInbox) -> None:
        self.inbox = inbox

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.inbox.revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.inbox.assign(assigned)
