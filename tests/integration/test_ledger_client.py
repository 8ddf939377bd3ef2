"""The producers' client on the real broker: outcomes matched on (account, command id), one
command awaited twice, and an outcome reader that fails fast or recovers, never hangs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from events.commands import BuyPackage, UseTool
from services.client import LedgerClient, LedgerUnavailable

NOW = datetime.now(UTC).replace(microsecond=0)


def buy(account: str, command_id: str) -> BuyPackage:
    return BuyPackage(
        command_id=command_id,
        account_id=account,
        occurred_at=NOW,
        package="small",
        payment_ref=f"pay-{account}",
    )


async def test_two_concurrent_decides_of_one_command_both_get_its_outcome(ledger, client):
    command = buy("acct-twice", "cmd-1")

    first, again = await asyncio.gather(client.submit(command), client.submit(command))

    assert {first.status, again.status} == {"accepted"}
    assert sorted([first.repeat, again.repeat]) in ([False, True], [False, False])
    assert len(ledger.ledger.store.stream("acct-twice")) <= 1  # applied once


async def test_one_command_id_in_two_accounts_gets_each_account_its_own_outcome(ledger, client):
    one, two = await asyncio.gather(
        client.submit(buy("acct-one", "same-id")),
        client.submit(
            UseTool(
                command_id="same-id",
                account_id="acct-two",
                occurred_at=NOW,
                tool="keyword_suggestions",
            )
        ),
    )

    assert (one.account_id, one.status) == ("acct-one", "accepted")
    assert (two.account_id, two.code) == ("acct-two", "unknown_account")


async def test_a_dead_outcome_reader_fails_waiting_calls_fast_and_starts_again(store_settings):
    async with LedgerClient(store_settings, timeout_s=30) as client:
        waiting = asyncio.create_task(client.submit(buy("acct-dead", "c1")))  # no ledger runs
        await asyncio.sleep(0.5)
        started = time.monotonic()
        assert client._reader is not None
        client._reader.cancel()  # the reader dies

        with pytest.raises(LedgerUnavailable):
            await waiting
        assert time.monotonic() - started < 2  # not the 30 s timeout
        assert client._reader.done()

        client.timeout_s = 0.5
        with pytest.raises(TimeoutError):  # the next call starts a new reader
            await client.submit(buy("acct-dead", "c2"))
        assert not client._reader.done()


async def test_a_failing_outcome_fetch_is_retried_and_the_outcome_still_arrives(ledger, client):
    real_getmany, failures = client._replies.consumer.getmany, {"left": 2}

    async def flaky_getmany(*args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("the broker is away")
        return await real_getmany(*args, **kwargs)

    client._replies.consumer.getmany = flaky_getmany
    async with asyncio.timeout(5):
        while client.reader_errors < 2:  # the reader has failed twice
            await asyncio.sleep(0.05)

    outcome = await client.submit(buy("acct-flaky", "c1"))

    assert outcome.status == "accepted" and failures["left"] == 0
