"""Retries built into the client, on the real broker: a call that gets no outcome in time sends
the same command again, and the account is charged once, whichever attempt was decided."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from events.commands import BuyPackage, UseTool
from services.client import LedgerTimeout
from tests.conftest import running_ledger
from tests.integration.client_ways import WAYS, open_client, stored


def use(account_id: str, command_id: str, tool: str = "article_generation") -> UseTool:
    return UseTool(
        command_id=command_id, account_id=account_id, occurred_at=datetime.now(UTC), tool=tool
    )


@pytest.mark.parametrize("way", WAYS)
async def test_a_use_retried_while_the_ledger_starts_late_is_charged_once(way, store_settings):
    options = {"timeout_s": 60.0, "retries": 5}  # sends at 0, 1, 2.9, 6.7, 14 and 29 s
    async with open_client(way, store_settings, **options) as client:
        await client.send(
            BuyPackage(
                command_id="buy-1",
                account_id="acct-late",
                occurred_at=datetime.now(UTC),
                package="small",
                payment_ref="pay-late",
            )
        )
        waiting = asyncio.create_task(client.submit(use("acct-late", "use-1")))
        await asyncio.sleep(2.5)  # no ledger yet: the use is sent again
        assert client.retried >= 1 and not waiting.done()

        async with running_ledger(store_settings) as ledger:
            outcome = await asyncio.wait_for(waiting, 60)
            # Every copy of the use is decided before this one (one partition, in order).
            marker = await client.execute(use("acct-late", "use-2", "keyword_suggestions"))
            names = await stored(ledger, marker)

    assert outcome.status == "accepted" and outcome.command_id == "use-1"
    assert names.count("ToolUsed") == 2  # the article once, and the marker
    assert marker.balance is not None and marker.balance.purchased == 1000 - 50 - 1


@pytest.mark.parametrize("way", WAYS)
async def test_a_call_that_never_gets_an_outcome_gives_up_after_its_retries(way, store_settings):
    options = {"timeout_s": 0.7, "retries": 2}  # sends at 0, 0.1 and 0.3 s
    async with open_client(way, store_settings, **options) as client:  # no ledger runs
        started = time.monotonic()
        with pytest.raises(LedgerTimeout, match="3 attempts"):
            await client.submit(use("acct-none", "use-1"))
        elapsed_s = time.monotonic() - started

        assert client.retried == 2
    assert 0.7 <= elapsed_s < 1.5  # the call's timeout bounds it, retries included
