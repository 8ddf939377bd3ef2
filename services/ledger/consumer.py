"""The ledger's Kafka edge (FastStream): batches of commands in, outcomes and dead letters out.

Exactly-once effect: the position of every partition lives in the event store, written in the
same transaction as the events its batch caused. On assignment (and after any failure) the
consumer seeks to the stored position and decides only records at or after it, so nothing is
skipped or applied twice; offsets may skip (transaction markers, retention). One bad command
is dead-lettered by the ledger; a failing store or broker is retried with back-off.

Outcomes are published before the commit: if the process dies in between, the batch is
decided again from the same state to the same outcomes (the core is pure), so a duplicate
outcome can appear but a lost one cannot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any, cast

from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as RawBatchMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import REGISTRY

from events.checkpoints import ChainHead
from events.encoding import json_of
from events.outcomes import DeadLetter, Outcome
from services import gc_tuning, kafka_clients
from services.ledger import checkpoints, metrics
from services.ledger.intake import Incoming
from services.ledger.ledger import Batch, Ledger, source_name
from services.ledger.replies import CORRELATION_ID, ReplyRouter, Routes, reply_partition
from services.publish import JSON, Routed, batch_producer, publish, publish_routed
from services.settings import Settings

log = logging.getLogger("kalema.ledger")
RETRY_FIRST_S, RETRY_MAX_S = 0.1, 5.0
ASSIGN_PATIENCE_S = 30.0  # far below the poll interval after which the group drops us


class LedgerConsumer:
    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.positions: dict[TopicPartition, int] = {}
        self.unsure: set[TopicPartition] = set()  # positions to read again from the store
        self.failures: dict[TopicPartition, int] = {}  # consecutive, for the back-off
        self.batches_committed = 0
        self.thaw = gc_tuning.Thaw()
        self.producer: AIOKafkaProducer | None = None
        self.checkpointing: asyncio.Task[None] | None = None  # the latest batch's heads
        self.replies = ReplyRouter(settings)
        self.broker = kafka_clients.broker(
            settings,
            client_id="kalema-ledger",
            enable_idempotence=True,
            graceful_timeout=30.0,
            logger=log,
            log_level=logging.DEBUG,  # FastStream's per-batch "Received"/"Processed" lines
            middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name="kalema-ledger")],
        )
        self.subscriber = self.broker.subscriber(
            settings.topic["commands"],
            batch=True,
            group_id=settings.ledger_group_id,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # never decide a command from an aborted txn
            max_records=settings.ledger_batch_max_records,
            batch_timeout_ms=settings.ledger_batch_wait_ms,
            session_timeout_ms=settings.ledger_session_timeout_ms,
            heartbeat_interval_ms=min(3000, settings.ledger_session_timeout_ms // 3),
            listener=_ResumeFromStore(self),
            parser=_keep_raw,
            decoder=_no_body,
            ack_policy=AckPolicy.ACK,
            **_held_fetches(settings),
        )
        self.subscriber(self.on_batch)
        metrics.track(self)

    async def on_batch(self, body: Any, msg: KafkaMessage) -> None:
        """Decide, publish and commit a fetch's records as one batch.

        Every partition's records are decided in their order, and all their positions are
        committed in one transaction: one decision pass, one round of acknowledgements and
        one commit per fetch, where a commit per partition made a record wait for every
        partition fetched before it."""
        ready: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        fetched = [*msg.raw_message, *await self._arrived_meanwhile(msg.raw_message)]
        for partition, records in _by_partition(fetched).items():
            expected = self.positions.get(partition)
            if expected is None or partition in self.unsure:
                await self._resume(partition)  # never drop records of a partition we own
                continue
            # Offsets may skip (transaction markers, records removed by retention): we read
            # from where we sought, so the first record at or after ``expected`` is the next.
            fresh = [r for r in records if r.offset >= expected]
            if fresh:
                ready[partition] = fresh
        if ready:
            # A batch's objects live from its decision to its commit: with the collector
            # running between the two, they were scanned (and promoted) for nothing to free,
            # about 2 µs a command. Reference counting frees them when ``_process`` returns,
            # and the states it caches are frozen rather than scanned.
            with gc_tuning.batch_survivors_frozen(self.thaw):
                await self._process(ready)

    async def _arrived_meanwhile(
        self, handed: tuple[ConsumerRecord[bytes, bytes], ...]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The commands that reached the broker while the last batch was being processed.

        The client fetches ahead, one request at a time, and sends the next only once the
        last answer is taken: the records handed to this batch were fetched when the last
        batch began, and those sent during it are still on the broker. Taking the answer to
        the fetch just sent (``ledger_catch_up_ms`` at most) decides them now rather than a
        batch later, where under load a command would wait for more than a batch.

        A batch handed over with more than one command (a stream is flowing) then goes on
        taking what arrives until it holds ``ledger_batch_min_bytes`` of commands or
        ``ledger_batch_linger_ms`` have passed: at a steady trickle a batch's fixed cost (a
        decision pass, a round of acknowledgements, a commit, and the projector's page after
        it) was paid for a few commands at a time (BENCHMARKS.md, issue 26). A lone command,
        or a batch already that large, does not wait. A failing fetch ends the taking: the
        batch in hand must still be decided, or its records would be passed over."""
        consumer = self.subscriber.consumer
        room = self.settings.ledger_batch_max_records - len(handed)
        if consumer is None or room <= 0 or not self.settings.ledger_catch_up_ms:
            return []
        loop = asyncio.get_running_loop()
        lingering = self.settings.ledger_batch_linger_ms if len(handed) > 1 else 0
        deadline = loop.time() + lingering / 1000
        size = sum(len(r.value or b"") for r in handed) if lingering else 0  # flood: unused
        taken: list[ConsumerRecord[bytes, bytes]] = []
        wait_ms = self.settings.ledger_catch_up_ms
        while room > 0:
            try:
                more = await consumer.getmany(timeout_ms=wait_ms, max_records=room)
            except Exception:
                log.warning("could not fetch more commands for this batch", exc_info=True)
                break
            for records in more.values():
                taken += records
                room -= len(records)
                if lingering:
                    size += sum(len(r.value or b"") for r in records)
            wait_ms = round((deadline - loop.time()) * 1000)
            if wait_ms <= 0 or size >= self.settings.ledger_batch_min_bytes:
                break
        return taken

    async def _process(self, ready: dict[TopicPartition, list[Any]]) -> None:
        incoming = [
            Incoming(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers), r.timestamp)
            for records in ready.values()
            for r in records
        ]
        batch: Batch | None = None
        at = {p: self.positions[p] for p in ready}  # a rebalance may revoke them meanwhile
        try:
            started = time.perf_counter()
            batch = await asyncio.to_thread(self.ledger.decide_batch, incoming)
            decided = time.perf_counter()
            await self._publish(batch, await self.replies.routes(incoming))
            published = time.perf_counter()
            await asyncio.to_thread(self.ledger.commit, batch)
        except Exception:
            log.exception("batch at offsets %s failed; retrying", {p.partition: at[p] for p in at})
            self.ledger.forget(batch.states if batch is not None else ())
            for partition in ready:
                self.unsure.add(partition)  # the commit may have happened: ask the store
                self._seek(partition, at[partition])
            await self._back_off(*ready)
            return
        for partition in ready:
            self.failures.pop(partition, None)
            self.positions[partition] = batch.positions[batch_source(partition)]
        self.checkpoint(batch)
        self.batches_committed += 1
        metrics.committed(batch, len(incoming), started, decided, published, time.perf_counter())

    async def _resume(self, partition: TopicPartition) -> None:
        """Seek ``partition`` to the position stored with its events (or its beginning)."""
        consumer = self.subscriber.consumer
        if consumer is None or partition not in consumer.assignment():
            return
        try:
            stored = await asyncio.to_thread(self.ledger.store.position, batch_source(partition))
            if stored is None:
                stored = (await consumer.beginning_offsets([partition]))[partition]
        except Exception:
            log.exception("position of %s unknown; retrying", partition)
            if partition in self.positions:
                self._seek(partition, self.positions[partition])
            await self._back_off(partition)
            return
        self.positions[partition] = stored
        self.unsure.discard(partition)
        self.failures.pop(partition, None)
        consumer.seek(partition, stored)

    async def _back_off(self, *partitions: TopicPartition) -> None:
        """Wait before a retry: 0.1 s, doubling to 5 s while the failures go on."""
        for partition in partitions:
            self.failures[partition] = self.failures.get(partition, 0) + 1
        failures = max(self.failures[partition] for partition in partitions)
        await asyncio.sleep(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (failures - 1)))

    async def _publish(self, batch: Batch, routes: Routes) -> None:
        """Each outcome once: to the reply partition its command asked for, else to the
        outcomes topic; then the dead letters. Wait until Kafka has them all.

        In record batches, one per partition (``services.publish``): FastStream's ``publish``
        costs several times aiokafka's ``send`` per record, a large share of the ledger's CPU
        for a batch of outcomes (see BENCHMARKS.md)."""
        topics = self.settings.topic
        messages: list[tuple[str, int | None, str | None, Outcome | DeadLetter, str]] = []
        for o in batch.outcomes:
            partition = reply_partition(routes, o.account_id, o.command_id) if routes else None
            topic = topics["outcomes"] if partition is None else self.replies.topic
            messages.append((topic, partition, o.account_id, o, ""))
        messages += [(topics["dead-letters"], None, d.key, d, d.reason) for d in batch.dead_letters]
        routed: list[Routed] = []
        for topic, partition, key, message, reason in messages:
            try:
                value = json_of(message)
            except ValueError:  # one unpublishable message must not stall the partition
                log.exception("cannot serialize a message for %s; not published", topic)
                continue
            headers = [JSON]
            if reason:
                headers.append(("x-dead-letter-reason", reason.encode()))
            if partition is not None:  # echoed, as request-reply over Kafka does
                headers.append((CORRELATION_ID, cast(Outcome, message).command_id.encode()))
            encoded = None if key is None else key.encode(errors="replace")
            routed.append((topic, partition, encoded, value, headers))
        await publish_routed(await self._producer(), routed)

    def checkpoint(self, batch: Batch) -> None:
        """Publish the committed batch's chain heads (``checkpoints``) in the background, after
        the previous batch's, so the next batch need not wait for them. A checkpoint that
        cannot be published is logged and skipped: it only lags, and the account's next batch
        publishes a newer one."""
        found = checkpoints.heads(batch.recorded, self.settings.chain_signing_key())
        if not found:
            return
        previous = self.checkpointing

        async def in_turn() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await self._publish_heads(found)
            except Exception:
                log.exception("could not publish the chain heads of %d accounts", len(found))

        self.checkpointing = asyncio.create_task(in_turn())

    async def _publish_heads(self, heads: list[ChainHead]) -> None:
        topic = self.settings.topic["chain-heads"]
        await publish(await self._producer(), checkpoints.messages(topic, heads))

    async def _producer(self) -> AIOKafkaProducer:
        """The outcomes' producer, started with the first batch (idempotent, every replica)."""
        if self.producer is None:
            producer = batch_producer(self.settings, "kalema-ledger")
            await producer.start()
            self.producer = producer
        return self.producer

    async def close(self) -> None:
        """Publish the last chain heads, then flush and stop the outcomes' producer (after the
        broker has stopped consuming)."""
        if self.checkpointing is not None:
            await asyncio.gather(self.checkpointing, return_exceptions=True)
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await producer.stop()

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Seek each new partition to its stored position, retrying while the store is down
        (for up to ``ASSIGN_PATIENCE_S``). A partition still unsure after that has its
        position looked up again when its first records are fetched: none is dropped."""
        deadline = asyncio.get_running_loop().time() + ASSIGN_PATIENCE_S
        for partition in partitions:
            self.unsure.add(partition)
            while partition in self.unsure and asyncio.get_running_loop().time() < deadline:
                await self._resume(partition)
        log.info("resuming %s", {str(p.partition): o for p, o in sorted(self.positions.items())})

    def revoked(self, partitions: set[TopicPartition]) -> None:
        for partition in partitions:
            self.positions.pop(partition, None)
            self.unsure.discard(partition)
            self.failures.pop(partition, None)
        self.ledger.forget()
        log.info("revoked %s", sorted(p.partition for p in partitions))

    def _seek(self, partition: TopicPartition, offset: int) -> None:
        consumer = self.subscriber.consumer
        if consumer is not None and partition in consumer.assignment():
            consumer.seek(partition, offset)


class _ResumeFromStore(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, edge: LedgerConsumer) -> None:
        self.edge = edge

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.edge.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.edge.assigned(assigned)


def _by_partition(records: Any) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    by_partition: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
    for record in records:
        by_partition[TopicPartition(record.topic, record.partition)].append(record)
    return by_partition


def _held_fetches(settings: Settings) -> dict[str, int]:
    """The broker holds the ledger's fetch as a batch lingers (Kafka's ``fetch.min.bytes`` and
    ``fetch.max.wait.ms``), rather than answer one with each command as it arrives; with no
    linger, Kafka's defaults (an answer as soon as there is anything)."""
    if not settings.ledger_batch_linger_ms:
        return {"fetch_min_bytes": 1, "fetch_max_wait_ms": 500}
    return {
        "fetch_min_bytes": settings.ledger_batch_min_bytes,
        "fetch_max_wait_ms": settings.ledger_batch_linger_ms,
    }


def batch_source(partition: TopicPartition) -> str:
    return source_name(partition.topic, partition.partition)


async def _keep_raw(records: tuple[Any, ...]) -> RawBatchMessage:
    """Hand the records over untouched: bad bytes or headers are the ledger's to judge."""
    first = records[0]
    return RawBatchMessage(
        body=b"",
        headers={},
        batch_headers=[],
        raw_message=records,  # type: ignore[arg-type]
        message_id=f"{first.partition}-{first.offset}",
        correlation_id=None,
        reply_to="",
        content_type=None,
        consumer=None,  # type: ignore[arg-type]
    )


async def _no_body(msg: Any) -> None:
    return None
