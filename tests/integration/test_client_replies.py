"""Reply partitions on the real broker: every client instance reads only its own outcomes.

Sixteen clients at once (async and sync), each answered on the partitions the group gave it
and reading nothing of another's; a repeat still answered there; a client that loses its reply
partition to a newcomer still answered; and any bad reply header costs only the reply: the
outcome goes to the outcomes topic and the ledger goes on.
"""

from __future__ import annotations

import asyncio
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from events.outcomes import Outcome
from services.client import LedgerClient, SyncLedgerClient
from services.ledger.replies import CORRELATION_ID, REPLY_PARTITION, REPLY_TOPIC, reply_headers
from services.settings import Settings
from tests.conftest import running_ledger
from tests.integration.client_ways import WAYS, buy_command

CLIENTS, ACCOUNTS_EACH, COMMANDS_EACH = 16, 2, 6


class Clients:
    """``CLIENTS`` instances of the async or the sync client, opened at once. The sync ones'
    blocking calls run in a pool of their own: the ledger in this process needs the default
    executor's few threads to decide what they wait for."""

    def __init__(self, way: str, settings: Settings) -> None:
        self.way, self.settings = way, settings
        self.pool = ThreadPoolExecutor(CLIENTS * (COMMANDS_EACH + 1))
        self.opened: list[Any] = []

    async def __aenter__(self) -> list[Any]:
        if self.way == "async":
            made = [LedgerClient(self.settings, timeout_s=30) for _ in range(CLIENTS)]
            self.opened = list(await asyncio.gather(*(c.__aenter__() for c in made)))
        else:
            made = [SyncLedgerClient(self.settings, timeout_s=30) for _ in range(CLIENTS)]
            await asyncio.gather(*(self._blocking(c.start) for c in made))
            self.opened = [_InPool(c, self) for c in made]
        return self.opened

    async def __aexit__(self, *exc: object) -> None:
        if self.way == "async":
            await asyncio.gather(*(c.stop() for c in self.opened))
        else:
            await asyncio.gather(*(self._blocking(c.sync.stop) for c in self.opened))
        self.pool.shutdown()

    async def _blocking(self, call: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, call, *args)


class _InPool:
    def __init__(self, sync: SyncLedgerClient, clients: Clients) -> None:
        self.sync, self.clients = sync, clients

    async def submit(self, command: Any) -> Outcome:
        outcome: Outcome = await self.clients._blocking(self.sync.submit, command)
        return outcome


def inbox_of(client: Any) -> Any:
    """The reply inbox under either client (the sync one runs the async one)."""
    inner = client.sync.client if isinstance(client, _InPool) else client
    return inner._replies


def spy_on_replies(client: Any) -> list[Outcome]:
    """Every outcome the client instance reads, whoever it was for."""
    inbox, read = inbox_of(client), []
    deliver = inbox._deliver

    def recorded(record: Any) -> None:
        read.append(Outcome.model_validate_json(record.value))
        deliver(record)

    inbox._deliver = recorded
    return read


async def outcomes_on(settings: Settings, role: str, timeout_s: float = 3) -> list[Any]:
    """Every record of the topic so far (waits ``timeout_s`` for stragglers)."""
    consumer = AIOKafkaConsumer(
        settings.topic[role],
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            found += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return found


async def work_of(client: Any, n: int) -> tuple[set[str], list[Outcome]]:
    """Client ``n``'s commands for accounts of its own; its answers."""
    accounts = [f"acct-c{n}-{a}" for a in range(ACCOUNTS_EACH)]
    commands = [buy_command(accounts[i % ACCOUNTS_EACH]) for i in range(COMMANDS_EACH)]
    return set(accounts), list(await asyncio.gather(*(client.submit(c) for c in commands)))


@pytest.mark.parametrize("way", WAYS)
async def test_sixteen_clients_at_once_each_read_every_outcome_of_theirs_and_none_of_others(
    store_settings, way
):
    async with running_ledger(store_settings), Clients(way, store_settings) as opened:
        read = [spy_on_replies(client) for client in opened]
        work = await asyncio.gather(*(work_of(c, n) for n, c in enumerate(opened)))
        await asyncio.sleep(1)  # any late repeat (a re-send after a rebalance) lands too

    for (accounts, answers), consumed in zip(work, read, strict=True):
        assert [a.status for a in answers] == ["accepted"] * COMMANDS_EACH
        assert {a.account_id for a in answers} <= accounts
        assert {o.account_id for o in consumed} <= accounts  # nobody else's outcome
        assert {o.command_id for o in answers} <= {o.command_id for o in consumed}
    consumed_in_all = sum(len(r) for r in read)
    assert CLIENTS * COMMANDS_EACH <= consumed_in_all < 2 * CLIENTS * COMMANDS_EACH
    assert await outcomes_on(store_settings, "outcomes", timeout_s=1) == []


async def test_a_repeated_command_is_answered_again_on_the_clients_own_partition(ledger, client):
    command = buy_command("acct-repeat")

    first = await client.submit(command)
    again = await client.submit(command)

    assert (first.repeat, again.repeat) == (False, True)
    assert again.command_id == first.command_id
    assert client.outcomes_read == 2


async def test_a_client_whose_reply_partition_moves_to_a_newcomer_is_still_answered(
    store_settings,
):
    async with LedgerClient(store_settings, timeout_s=40) as first:
        waiting = asyncio.create_task(first.submit(buy_command("acct-moved")))  # no ledger yet
        await asyncio.sleep(0.5)
        async with LedgerClient(store_settings, timeout_s=40) as newcomer:
            assert set(first._replies.owned).isdisjoint(newcomer._replies.owned)
            async with running_ledger(store_settings):
                outcome = await asyncio.wait_for(waiting, 40)

    assert (outcome.account_id, outcome.status) == ("acct-moved", "accepted")


BAD_REPLY_HEADERS = {
    "an unknown topic": lambda s, cid: reply_headers("test.elsewhere.replies", 0, cid),
    "a partition out of range": lambda s, cid: reply_headers(s.topic["replies"], 9999, cid),
    "a negative partition": lambda s, cid: reply_headers(s.topic["replies"], -1, cid),
    "garbage partition bytes": lambda s, cid: [
        (REPLY_TOPIC, s.topic["replies"].encode()),
        (REPLY_PARTITION, b"\xff\x00"),
        (CORRELATION_ID, cid.encode()),
    ],
    "a topic that is not text": lambda s, cid: [
        (REPLY_TOPIC, b"\xff\xfe\xfd"),
        (REPLY_PARTITION, struct.pack(">i", 0)),
        (CORRELATION_ID, cid.encode()),
    ],
    "null values": lambda s, cid: [
        (REPLY_TOPIC, None),
        (REPLY_PARTITION, None),
        (CORRELATION_ID, None),
    ],
    "no correlation id": lambda s, cid: reply_headers(s.topic["replies"], 0, cid)[:2],
}


async def test_bad_reply_headers_send_the_outcome_to_the_outcomes_topic_never_crashing(ledger):
    settings = ledger.settings
    sent = {}
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for n, (case, headers) in enumerate(BAD_REPLY_HEADERS.items()):
            command = buy_command(f"acct-bad-{n}")
            sent[command.command_id] = case
            await producer.send_and_wait(
                settings.topic["commands"],
                command.model_dump_json().encode(),
                key=command.account_id.encode(),
                headers=headers(settings, command.command_id),
            )
        good = buy_command("acct-good")  # the ledger goes on, and honours a good request
        await producer.send_and_wait(
            settings.topic["commands"],
            good.model_dump_json().encode(),
            key=good.account_id.encode(),
            headers=reply_headers(settings.topic["replies"], 3, good.command_id),
        )
    finally:
        await producer.stop()

    answered = await replies_on(settings, partition=3, count=1)
    outcomes = [
        Outcome.model_validate_json(r.value) for r in await outcomes_on(settings, "outcomes")
    ]

    assert {o.command_id: sent[o.command_id] for o in outcomes} == {c: sent[c] for c in sent}
    assert all(o.status == "accepted" for o in outcomes)
    [reply] = answered
    assert Outcome.model_validate_json(reply.value).command_id == good.command_id
    assert (CORRELATION_ID, good.command_id.encode()) in reply.headers


async def replies_on(settings: Settings, partition: int, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None)
    await consumer.start()
    found: list[Any] = []
    try:
        tp = TopicPartition(settings.topic["replies"], partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        async with asyncio.timeout(30):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=300)
                found += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return found
