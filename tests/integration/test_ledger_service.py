"""The ledger service on the real broker, over SQLite and PostgreSQL (one test body each):
every command kind gets its outcome, refusals come back typed, bad input is dead-lettered,
duplicates are answered once, and a restart resumes without reprocessing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from events.commands import BuyPackage, CycleRenewed, UseTool
from events.outcomes import DeadLetter
from events.refusals import InsufficientCredits
from services.ledger.store import LedgerStore
from tests.conftest import running_ledger
from tests.every_kind import every_kind

NOW = datetime.now(UTC).replace(microsecond=0)


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def ids(account: str, n: str) -> dict:
    return {"command_id": f"{account}-{n}", "account_id": account, "occurred_at": at(float(n))}


async def test_every_command_kind_gets_its_outcome(ledger, client):
    a = "acct-kinds"
    steps = every_kind(a, NOW)
    for command, total in steps:
        outcome = await client.submit(command)
        assert (outcome.command_id, outcome.status) == (command.command_id, "accepted"), outcome
        assert outcome.balance.total == total, (command.type, outcome)

    stream = ledger.ledger.store.stream(a)
    assert [r.originator_version for r in stream] == list(range(1, len(stream) + 1))
    assert "HoldExpired" in [type(r.event).__name__ for r in stream]


async def test_a_producer_gets_insufficient_credits_back_and_nothing_is_deducted(ledger, client):
    a = "acct-poor"
    await client.execute(
        CycleRenewed(**ids(a, "1"), plan="solo", cycle_start=at(0), cycle_end=at(24 * 30))
    )
    await client.use_tool(a, "content_analysis", units=97, command_id=f"{a}-2")

    with pytest.raises(InsufficientCredits) as refused:
        await client.use_tool(a, "article_generation", command_id=f"{a}-3")

    assert refused.value.message == "Insufficient Credits"
    assert refused.value.details == {
        "required": 50,
        "available": 10,
        "subscription": 10,
        "purchased": 0,
        "granted": 0,
    }
    outcome = await client.submit(UseTool(**ids(a, "4"), tool="keyword_suggestions"))
    assert outcome.balance.total == 9


async def test_a_duplicate_command_is_answered_with_its_first_outcome_and_applied_once(
    ledger, client
):
    a = "acct-dup"
    await client.execute(BuyPackage(**ids(a, "1"), package="medium", payment_ref="p"))
    use = UseTool(**ids(a, "2"), tool="image_generation", units=3)

    first = await client.submit(use)
    again = await client.submit(use)

    assert (first.repeat, again.repeat) == (False, True)
    assert again.charged == first.charged and again.balance.total == 4880
    assert len(ledger.ledger.store.stream(a)) == 2


async def test_unreadable_messages_are_dead_lettered_and_the_consumer_carries_on(
    ledger, client, store_settings
):
    good = UseTool(**ids("acct-x", "1"), tool="keyword_suggestions")
    bad = [
        (b"acct-x", b"{not json", "undecodable"),
        (b"acct-x", b"\xff\xfe\x00", "undecodable"),
        (b"acct-x", json.dumps({"type": "MintCredits"}).encode(), "unknown_command_type"),
        (b"acct-x", variant(good, "bad-1", units=-3), "schema_violation"),
        (None, variant(good, "bad-2"), "missing_key"),
        (b"acct-y", variant(good, "bad-3"), "key_mismatch"),
        (b"acct-x", b"{" + b" " * store_settings.max_message_bytes + b"}", "oversized"),
        (b"acct-x", b"", "empty"),
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=store_settings.kafka_bootstrap_servers,
        max_request_size=4 * store_settings.max_message_bytes,
    )
    await producer.start()
    try:
        for key, value, _ in bad:
            await producer.send_and_wait(
                store_settings.topic["commands"], value, key=key, headers=[("trace", b"\xffraw")]
            )
    finally:
        await producer.stop()

    unknown = await client.submit(good)  # the consumer is alive and still in order
    assert (unknown.status, unknown.code) == ("refused", "unknown_account")

    letters = await read_all(store_settings, "dead-letters", len(bad) + 1)
    assert sorted(letter.reason for letter in letters) == sorted(
        [reason for *_, reason in bad] + ["unknown_account"]
    )
    undecodable = next(letter for letter in letters if letter.payload_base64 == "e25vdCBqc29u")
    assert undecodable.headers == (("trace", "\ufffdraw"),)
    assert undecodable.error.startswith("message: Invalid JSON")


async def test_a_restarted_ledger_resumes_from_its_stored_position_without_reprocessing(
    store_settings, client
):
    a = "acct-restart"
    async with running_ledger(store_settings) as first:
        await client.execute(BuyPackage(**ids(a, "1"), package="small", payment_ref="p"))
        await client.execute(UseTool(**ids(a, "2"), tool="content_analysis"))
    assert first.batches_committed == 2  # shutdown finished the batch in flight

    async with running_ledger(store_settings) as second:
        assert sum(second.positions.values()) == 2  # resumed from the stored positions
        outcome = await client.execute(UseTool(**ids(a, "3"), tool="content_analysis"))
    assert second.batches_committed == 1  # only the new command was read
    assert outcome.balance.total == 980
    assert [r.event.type for r in LedgerStore(store_settings).stream(a)] == [
        "PackagePurchased",
        "ToolUsed",
        "ToolUsed",
    ]

    outcomes = await read_all(store_settings, ("outcomes", "replies"), 3, model=None)
    assert sorted(json.loads(o)["command_id"] for o in outcomes) == [f"{a}-1", f"{a}-2", f"{a}-3"]


async def test_commands_arriving_while_a_batch_lingers_are_decided_in_that_one_batch(
    store_settings,
):
    """A batch waits for ``ledger_batch_min_bytes`` of commands or ``ledger_batch_linger_ms``
    (the broker holding the fetch, then the batch taking what arrives): two more commands
    sent 0.3 s after the first two join their batch, and the four pay one commit
    (BENCHMARKS.md, issue 26)."""
    a = "acct-linger"
    settings = store_settings.model_copy(update={"ledger_batch_linger_ms": 1500})
    first = [BuyPackage(**ids(a, "1"), package="small", payment_ref="p-linger")]
    first += [UseTool(**ids(a, "2"), tool="content_analysis")]
    later = [UseTool(**ids(a, n), tool="content_analysis") for n in ("3", "4")]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    async with running_ledger(settings) as edge:
        await producer.start()
        try:
            for group in (first, later):
                for command in group:
                    await producer.send(
                        settings.topic["commands"],
                        command.model_dump_json().encode(),
                        key=a.encode(),
                    )
                await producer.flush()
                await asyncio.sleep(0.3)
        finally:
            await producer.stop()
        outcomes = await read_all(settings, ("outcomes", "replies"), 4, model=None)
        committed = edge.batches_committed

    assert sorted(json.loads(o)["status"] for o in outcomes) == ["accepted"] * 4
    assert committed == 1


async def test_a_command_stamped_in_2199_is_refused_clock_skew_and_the_account_keeps_its_time(
    store_settings, client
):
    bounded = store_settings.model_copy(update={"ledger_max_clock_skew_s": 300})
    a = "acct-2199"
    async with running_ledger(bounded):
        await client.execute(BuyPackage(**ids(a, "0"), package="small", payment_ref="p"))
        from_2199 = UseTool(**ids(a, "0.01"), tool="content_analysis").model_copy(
            update={"occurred_at": datetime(2199, 1, 1, tzinfo=UTC)}
        )

        refused = await client.submit(from_2199)
        after = await client.execute(UseTool(**ids(a, "0.02"), tool="content_analysis"))

    assert (refused.status, refused.code, refused.balance.total) == ("refused", "clock_skew", 1000)
    assert after.balance.total == 990
    stream = LedgerStore(store_settings).stream(a)
    assert [r.event.type for r in stream] == ["PackagePurchased", "CommandRefused", "ToolUsed"]
    assert stream[1].event.occurred_at == stream[0].event.occurred_at  # time did not move


def variant(command, command_id: str, **changes) -> bytes:
    """The command's JSON with another id and, possibly, values no model would accept."""
    return json.dumps(
        {**json.loads(command.model_dump_json()), "command_id": command_id, **changes}
    ).encode()


async def read_all(settings, role, count: int, model=DeadLetter, timeout_s: float = 20):
    """``count`` records of the topic (or topics: the client's outcomes are on replies)."""
    consumer = AIOKafkaConsumer(
        *(settings.topic[r] for r in ((role,) if isinstance(role, str) else role)),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=300)
                found += [r.value for records in batch.values() for r in records]
        await asyncio.sleep(0.5)  # and nothing more than expected
        batch = await consumer.getmany(timeout_ms=300)
        found += [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return [model.model_validate_json(v) for v in found] if model else found
