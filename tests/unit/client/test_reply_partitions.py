"""After a rebalance the client sends again exactly the waited-for commands whose reply
partition it lost (their outcomes would go to another client); the others wait on."""

from __future__ import annotations

import asyncio

from services.client import LedgerClient
from services.settings import Settings
from tests.integration.client_ways import buy_command


async def test_a_rebalance_sends_again_only_the_commands_whose_reply_partition_was_lost():
    client = LedgerClient(Settings())
    kept, lost = buy_command("acct-kept"), buy_command("acct-lost")
    client._asked = {
        (kept.account_id, kept.command_id): (kept, 3),
        (lost.account_id, lost.command_id): (lost, 5),
    }
    sent_again = []

    async def ask(command, deadline):
        sent_again.append(command)

    client._ask = ask  # type: ignore[method-assign]

    client._rebalanced((3, 4))
    await asyncio.gather(*client._background)

    assert sent_again == [lost]
    assert client.resent == 1


async def test_a_rebalance_that_leaves_the_client_no_partition_sends_nothing_yet():
    client = LedgerClient(Settings())
    command = buy_command("acct-waiting")
    client._asked = {(command.account_id, command.command_id): (command, 5)}

    client._rebalanced(())

    assert client.resent == 0 and not client._background
