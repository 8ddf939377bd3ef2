"""The ledger's Kafka edge (FastStream): batches of commands in, outcomes and dead letters out.

Exactly-once effect: the position of every partition lives in the event store, written in the
same transaction as the events its batch caused. On assignment the consumer seeks to the stored
position; a batch is only stored if it starts exactly there, so nothing is skipped or applied
twice. Outcomes are published before the commit: if the process dies in between, the batch is
decided again from the same state to the same outcomes (the core is pure), so a duplicate
outcome can appear but a lost one cannot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import KafkaMessage as RawBatchMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from prometheus_client import REGISTRY

from services.ledger import metrics
from services.ledger.intake import Incoming
from services.ledger.service import Batch, Ledger, source_name
from services.settings import Settings

log = logging.getLogger("kalema.ledger")
RETRY_DELAY_S = 1.0


class LedgerConsumer:
    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        self.ledger = ledger
        self.positions: dict[TopicPartition, int] = {}
        self.batches_committed = 0
        self.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
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
            max_records=settings.ledger_batch_max_records,
            batch_timeout_ms=settings.ledger_batch_wait_ms,
            session_timeout_ms=settings.ledger_session_timeout_ms,
            heartbeat_interval_ms=min(3000, settings.ledger_session_timeout_ms // 3),
            listener=_ResumeFromStore(self),
            parser=_keep_raw,
            decoder=_no_body,
            ack_policy=AckPolicy.ACK,
        )
        self.subscriber(self.on_batch)
        metrics.track(self)

    async def on_batch(self, body: Any, msg: KafkaMessage) -> None:
        """Decide, publish and commit each partition's part of a fetched batch, in order."""
        by_partition: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)
        for record in msg.raw_message:
            by_partition[TopicPartition(record.topic, record.partition)].append(record)
        for partition, records in by_partition.items():
            await self._process(partition, records)

    async def _process(self, partition: TopicPartition, records: list[Any]) -> None:
        expected = self.positions.get(partition)
        if expected is None:
            return  # revoked while fetched: its new owner will read it
        records = [r for r in records if r.offset >= expected]
        if not records:
            return
        if records[0].offset != expected:
            log.warning(
                "gap on %s: expected offset %d, got %d; re-reading",
                partition,
                expected,
                records[0].offset,
            )
            self._seek(partition, expected)
            return
        incoming = [
            Incoming(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
            for r in records
        ]
        try:
            started = time.perf_counter()
            batch = await asyncio.to_thread(self.ledger.decide, incoming)
            decided = time.perf_counter()
            await self._publish(batch)
            await asyncio.to_thread(self.ledger.commit, batch)
        except Exception:
            log.exception(
                "batch at %s offset %d failed; retrying from the stored position",
                partition,
                expected,
            )
            self.ledger.forget()
            stored = await asyncio.to_thread(self.ledger.store.position, batch_source(partition))
            self.positions[partition] = stored if stored is not None else expected
            self._seek(partition, self.positions[partition])
            await asyncio.sleep(RETRY_DELAY_S)
            return
        self.positions[partition] = batch.next_offset
        self.batches_committed += 1
        finished = time.perf_counter()
        metrics.committed(batch, len(incoming), decided - started, finished - started)

    async def _publish(self, batch: Batch) -> None:
        sent = [
            await self.broker.publish(
                outcome.model_dump_json().encode(),
                self.settings.topic["outcomes"],
                key=outcome.account_id.encode(),
                headers={"content-type": "application/json"},
                no_confirm=True,
            )
            for outcome in batch.outcomes
        ] + [
            await self.broker.publish(
                letter.model_dump_json().encode(),
                self.settings.topic["dead-letters"],
                key=None if letter.key is None else letter.key.encode(),
                headers={"content-type": "application/json", "x-dead-letter-reason": letter.reason},
                no_confirm=True,
            )
            for letter in batch.dead_letters
        ]
        await asyncio.gather(*sent)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        consumer = self.subscriber.consumer
        assert consumer is not None
        self.ledger.forget()
        beginnings = await consumer.beginning_offsets(list(partitions))
        for partition in partitions:
            stored = await asyncio.to_thread(self.ledger.store.position, batch_source(partition))
            self.positions[partition] = beginnings[partition] if stored is None else stored
            consumer.seek(partition, self.positions[partition])
        log.info("resuming %s", {str(p.partition): o for p, o in sorted(self.positions.items())})

    def revoked(self, partitions: set[TopicPartition]) -> None:
        for partition in partitions:
            self.positions.pop(partition, None)
        self.ledger.forget()

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
