"""Checking the store against the chain-head checkpoints (``events.checkpoints``), kept on the
``chain-heads`` topic where someone who can write the database cannot reach them.

A stream shorter than its checkpoint was truncated; a checkpointed account the store does not
have was deleted; an event whose hash is not the checkpoint's was rewritten. With a chain key,
only checkpoints signed by a key of the ring count: an unsigned or forged one is itself a
finding (whoever can write the topic cannot sign).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from eventsourcing.persistence import StoredEvent
from pydantic import ValidationError

from events.checkpoints import ChainHead
from services.audit.finding import Finding
from services.ledger.chain import head_signature
from services.ledger.upcasting import unseal
from services.settings import Settings
from services.tail import TopicTail

Unreadable = tuple[int, int]  # partition, offset of a record that is no checkpoint


async def read_heads(settings: Settings) -> tuple[list[ChainHead], list[Unreadable]]:
    """Every checkpoint on the topic, from its beginning to its end as of now."""
    found: list[ChainHead] = []
    unreadable: list[Unreadable] = []

    def deliver(record: ConsumerRecord[Any, bytes | None]) -> None:
        try:
            found.append(ChainHead.model_validate_json(record.value or b""))
        except ValidationError:
            unreadable.append((record.partition, record.offset))

    tail = TopicTail(settings, "chain-heads", deliver, from_end=False, client_id="kalema-audit")
    await tail.open()
    try:
        consumer = tail.consumer
        partitions = [TopicPartition(tail.topic, n) for n in range(tail.partitions)]
        ends = await consumer.end_offsets(partitions)
        while [p for p in partitions if await consumer.position(p) < ends[p]]:
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    deliver(record)
    finally:
        await tail.stop()
    return found, unreadable


def check_heads(
    heads: Iterable[ChainHead],
    streams: Mapping[str, list[StoredEvent]],
    keys: Mapping[str, bytes],
) -> Iterator[Finding]:
    """Each account's furthest checkpoint against its stored stream."""
    furthest: dict[str, ChainHead] = {}
    for head in heads:
        why = _unsigned(head, keys)
        if why is not None:
            yield Finding(head.account_id, "checkpoint", f"version {head.version} {why}")
            continue
        current = furthest.get(head.account_id)
        if current is None or head.version > current.version:
            furthest[head.account_id] = head
    for account_id, head in furthest.items():
        rows = streams.get(account_id)
        if not rows:
            yield Finding(
                account_id,
                "checkpoint",
                f"the account is missing from the store (checkpointed at version {head.version})",
            )
            continue
        at = next((r for r in rows if r.originator_version == head.version), None)
        last = rows[-1].originator_version
        if last < head.version:
            yield Finding(
                account_id,
                "checkpoint",
                f"the stream ends at version {last}, checkpointed at {head.version}: truncated",
            )
        elif at is None:
            yield Finding(account_id, "checkpoint", f"version {head.version} is missing")
        elif _chain(at) != head.head:
            yield Finding(
                account_id,
                "checkpoint",
                f"event {head.version}'s hash is not the checkpoint's: rewritten",
            )


def _unsigned(head: ChainHead, keys: Mapping[str, bytes]) -> str | None:
    """Why a checkpoint cannot be trusted, or None (always None without a key ring)."""
    if not keys:
        return None
    if not head.signature:
        return "is unsigned where the chain is keyed"
    secret = keys.get(head.key_id)
    if secret is None:
        return f"is signed with key {head.key_id!r}, which is not in the key ring"
    expected = head_signature((head.key_id, secret), head.account_id, head.version, head.head)
    if not hmac.compare_digest(expected.encode(), head.signature.encode()):
        return "has a signature that does not verify (forged)"
    return None


def _chain(row: StoredEvent) -> str | None:
    try:
        return unseal(row.state)[0]
    except ValueError:
        return None
