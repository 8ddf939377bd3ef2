"""Chain-head checkpoints on the real broker, over SQLite and PostgreSQL: the ledger publishes
signed heads after each batch, and ``credits verify --checkpoints`` uses them to catch what the
store alone cannot show, a stream truncated with its index rows or an account deleted
entirely, by someone with write access to the database but not to the chain key."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from events.commands import BuyPackage, CycleRenewed, UseTool
from services.client import LedgerClient
from tests.conftest import running_ledger
from tests.integration.test_audit import credits, sql
from tests.unit.core import scenario as s


def keyed(settings):
    return settings.model_copy(
        update={
            "ledger_chain_keys": {"2027": SecretStr("chain secret")},
            "ledger_chain_key_id": "2027",
        }
    )


async def decided(settings) -> None:
    """acct-a: a renewal, a package and a use (3 events); acct-b: a renewal (1 event)."""
    commands: list[CycleRenewed | BuyPackage | UseTool] = [
        s.renewed("solo").model_copy(update={"account_id": "acct-a", "command_id": "a-1"}),
        s.bought("small").model_copy(update={"account_id": "acct-a", "command_id": "a-2"}),
        s.used("meta_description").model_copy(update={"account_id": "acct-a", "command_id": "a-3"}),
        s.renewed("solo").model_copy(update={"account_id": "acct-b", "command_id": "b-1"}),
    ]
    async with running_ledger(settings), LedgerClient(settings, timeout_s=20) as client:
        for command in commands:
            outcome = await client.submit(command)
            assert outcome.status == "accepted", outcome
    # leaving ``running_ledger`` waits for the last batch's checkpoints


def delete(settings, account: str, from_version: int = 1) -> None:
    """What someone with database access could do: remove events and their index rows,
    leaving whatever remains whole."""
    sql(
        settings,
        "DELETE FROM stored_events WHERE originator_id = ? AND originator_version >= ?",
        account,
        from_version,
    )
    sql(
        settings,
        "DELETE FROM ledger_index WHERE account_id = ? AND version >= ?",
        account,
        from_version,
    )  # (no snapshot yet: an account takes one every 25 events)


async def verify(settings, *options: str) -> tuple[int, str]:
    """``credits verify --chain`` (the CLI runs its own event loop: in a thread here)."""
    return await asyncio.to_thread(
        credits, settings, "verify", "--chain", "--no-read-model", *options
    )


async def test_verify_with_checkpoints_catches_a_truncated_stream_and_a_deleted_account(
    store_settings,
):
    settings = keyed(store_settings)
    await decided(settings)
    assert await verify(settings, "--checkpoints") == (0, "all accounts verified\n")

    delete(settings, "acct-a", from_version=3)
    delete(settings, "acct-b")
    unchecked = await verify(settings)
    code, output = await verify(settings, "--checkpoints")

    assert unchecked == (0, "all accounts verified\n")  # the store alone looks whole
    assert code == 1
    assert (
        "acct-a: checkpoint: the stream ends at version 2, checkpointed at 3: truncated" in output
    )
    assert "acct-b: checkpoint: the account is missing from the store" in output
