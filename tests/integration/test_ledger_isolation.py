"""One bad record degrades one command, never a partition: each case found in issue #12,
reproduced on the real broker (and on both stores where the store is involved)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer, TopicPartition
from eventsourcing.persistence import StoredEvent

from events.commands import BuyPackage, UseTool
from events.outcomes import Outcome
from services.ledger.core import handle
from services.ledger.intake import PAYLOAD_KEPT_BYTES
from services.ledger.store import LedgerStore
from tests.conftest import running_ledger
from tests.integration.test_ledger_service import read_all

NOW = datetime.now(UTC).replace(microsecond=0)


def ids(account: str, n: int) -> dict:
    return {
        "command_id": f"{account}-{n}",
        "account_id": account,
        "occurred_at": NOW + timedelta(minutes=n),
    }


def raising_on(command_id: str):
    """The core's handler, except that deciding ``command_id`` raises, as a bug would."""

    def handler(command, state, catalog, past, arrival=None):
        if command.command_id == command_id:
            raise OverflowError("date value out of range")
        return handle(command, state, catalog, past, arrival)

    return handler


async def stored_ids(edge, account: str, count: int) -> list[str]:
    """The command ids of the account's stored events, once ``count`` are stored (outcomes
    are published just before their batch commits)."""
    async with asyncio.timeout(10):
        while len(stream := edge.ledger.store.stream(account)) < count:
            await asyncio.sleep(0.05)
    return [r.event.command_id for r in stream]


async def produce(settings, records, **config) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, **config)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(
                settings.topic["commands"], value, key=key, headers=headers
            )
    finally:
        await producer.stop()


async def test_a_command_whose_decision_raises_is_dead_lettered_and_its_partition_moves_on(
    ledger, client, store_settings
):
    a = "acct-bug"
    await client.execute(BuyPackage(**ids(a, 1), package="small", payment_ref="p1"))
    ledger.ledger.handler = raising_on(f"{a}-2")

    broken = await client.submit(UseTool(**ids(a, 2), tool="article_generation"))
    after = await client.submit(UseTool(**ids(a, 3), tool="article_generation"))

    assert (broken.status, broken.code) == ("refused", "internal_error")
    assert "OverflowError: date value out of range" in (broken.message or "")
    assert (after.status, after.balance.total) == ("accepted", 950)
    [letter] = await read_all(store_settings, "dead-letters", 1)
    assert (letter.reason, letter.command_id, letter.account_id) == ("internal_error", f"{a}-2", a)
    assert await stored_ids(ledger, a, 2) == [f"{a}-1", f"{a}-3"]


async def test_a_null_header_value_is_dead_lettered_not_crashing(ledger, client, store_settings):
    await produce(store_settings, [(b"acct-h", b"{not json", [("trace", None), ("ok", b"1")])])

    outcome = await client.submit(UseTool(**ids("acct-h", 1), tool="keyword_suggestions"))

    assert outcome.code == "unknown_account"  # the consumer is alive and in order
    letters = await read_all(store_settings, "dead-letters", 2)
    undecodable = next(letter for letter in letters if letter.reason == "undecodable")
    assert undecodable.headers == (("trace", None), ("ok", "1"))


async def test_a_command_near_one_megabyte_is_dead_lettered_cut_to_size_and_answered(
    ledger, client, store_settings
):
    a = "acct-big"
    body = {**json.loads(UseTool(**ids(a, 1), tool="keyword_suggestions").model_dump_json())}
    value = json.dumps({**body, "padding": "x" * 950_000}).encode()
    await produce(store_settings, [(a.encode(), value, [])], max_request_size=2_000_000)

    [letter] = await read_all(store_settings, "dead-letters", 1)
    [answer] = await read_all(store_settings, "outcomes", 1, model=Outcome)

    assert (letter.reason, letter.payload_bytes, letter.payload_truncated) == (
        "oversized",
        len(value),
        True,
    )
    assert letter.payload_sha256 == hashlib.sha256(value).hexdigest()
    assert base64.b64decode(letter.payload_base64) == value[:PAYLOAD_KEPT_BYTES]
    assert (answer.command_id, answer.account_id, answer.code) == (f"{a}-1", a, "oversized")
    after = await client.submit(UseTool(**ids(a, 2), tool="keyword_suggestions"))
    assert after.code == "unknown_account"


async def test_a_schema_violation_with_a_readable_command_id_is_answered_not_left_to_time_out(
    ledger, client
):
    negative = UseTool.model_construct(
        **ids("acct-neg", 1), type="UseTool", tool="keyword_suggestions", units=-3
    )

    outcome = await client.submit(negative)

    assert (outcome.status, outcome.code, outcome.account_id) == (
        "refused",
        "schema_violation",
        "acct-neg",
    )
    assert "units" in (outcome.message or "")


async def test_the_store_down_during_assignment_delays_the_partitions_but_drops_no_record(
    store_settings, client
):
    a = "acct-assign"
    await client.send(BuyPackage(**ids(a, 1), package="small", payment_ref="p1"))
    failures = {"left": 3}
    real_position = LedgerStore.position

    def flaky_position(store, source):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("the store is down")
        return real_position(store, source)

    LedgerStore.position = flaky_position  # type: ignore[method-assign]
    try:
        async with running_ledger(store_settings):
            outcome = await client.submit(UseTool(**ids(a, 2), tool="content_analysis"))
    finally:
        LedgerStore.position = real_position  # type: ignore[method-assign]

    assert failures["left"] == 0
    assert (outcome.status, outcome.balance.total) == ("accepted", 990)
    store = LedgerStore(store_settings)  # read after shutdown: outcomes precede the commit
    assert [r.event.command_id for r in store.stream(a)] == [f"{a}-1", f"{a}-2"]
    store.close()


async def test_transaction_markers_skip_offsets_and_aborted_commands_are_never_decided(
    ledger, client, store_settings
):
    a = "acct-txn"
    producer = AIOKafkaProducer(
        bootstrap_servers=store_settings.kafka_bootstrap_servers,
        transactional_id=f"txn-{store_settings.topic_prefix}",
    )
    await producer.start()
    try:
        for n, commit in ((1, True), (2, False), (3, True)):
            command = BuyPackage(**ids(a, n), package="small", payment_ref=f"p{n}")
            await producer.begin_transaction()
            await producer.send_and_wait(
                store_settings.topic["commands"],
                command.model_dump_json().encode(),
                key=a.encode(),
            )
            await (producer.commit_transaction() if commit else producer.abort_transaction())
    finally:
        await producer.stop()

    outcome = await client.submit(UseTool(**ids(a, 4), tool="content_analysis"))

    assert (outcome.status, outcome.balance.total) == ("accepted", 1990)
    assert await stored_ids(ledger, a, 3) == [
        f"{a}-1",
        f"{a}-3",
        f"{a}-4",
    ]


async def test_a_failed_commit_is_retried_without_dropping_other_partitions_cached_accounts(
    ledger, client
):
    a, b = "acct-retry-a", "acct-retry-b"
    for account in (a, b):
        await client.execute(
            BuyPackage(**ids(account, 1), package="small", payment_ref=f"p-{account}")
        )
        await stored_ids(ledger, account, 1)
    assert {a, b} <= ledger.ledger._cache.keys()
    store = ledger.ledger.store
    real_append, failures = store.append, {"left": 2}

    def flaky_append(recorded, *positions, **index):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("the store is down")
        return real_append(recorded, *positions, **index)

    store.append = flaky_append  # type: ignore[method-assign]

    outcome = await client.submit(UseTool(**ids(a, 2), tool="content_analysis"))

    assert await stored_ids(ledger, a, 2) == [f"{a}-1", f"{a}-2"]
    assert failures["left"] == 0 and outcome.balance.total == 990
    assert b in ledger.ledger._cache  # another account stayed cached
    partition = TopicPartition(ledger.settings.topic["commands"], 0)
    assert not ledger.unsure and partition not in ledger.failures


async def test_an_account_whose_stored_stream_cannot_be_read_does_not_stall_its_partition(
    ledger, client, store_settings
):
    bad, good = "acct-damaged", "acct-sound"
    ledger.ledger.store.recorder.insert_events(
        [StoredEvent(bad, 1, "ToolUsed", b"not an event")]  # as a damaged row would read
    )

    refused = await client.submit(UseTool(**ids(bad, 1), tool="keyword_suggestions"))
    bought = await client.submit(BuyPackage(**ids(good, 1), package="small", payment_ref="p"))

    assert (refused.status, refused.code) == ("refused", "internal_error")
    assert f"the stream of {bad} cannot be loaded" in (refused.message or "")
    assert (bought.status, bought.balance.total) == ("accepted", 1000)
    assert not ledger.unsure and not ledger.failures
