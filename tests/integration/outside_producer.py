"""Another producer, in its own process: ``python -m tests.integration.outside_producer ACCOUNT
TOOL [UNITS]`` sends one ``UseTool`` to the ledger over Kafka (settings from the environment,
as any deployable) and prints its outcome. The browser test runs it to change a balance that
the page did not change itself."""

from __future__ import annotations

import asyncio
import sys

from services.client import LedgerClient
from services.settings import Settings


async def use(account_id: str, tool: str, units: int) -> str:
    async with LedgerClient(Settings(), timeout_s=30) as ledger:
        outcome = await ledger.use_tool(account_id, tool, units)
    return outcome.model_dump_json()


if __name__ == "__main__":
    account_id, tool, *units = sys.argv[1:]
    print(asyncio.run(use(account_id, tool, int(units[0]) if units else 1)))
