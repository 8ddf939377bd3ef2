"""``python -m services.api.demo``: give the demo account this month's Solo cycle, as billing
would, so the page has subscription credits to show. Development only; safe to repeat (the
command id is the month's, so a repeat is answered with the first outcome)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from events.commands import CycleRenewed
from services.api.settings import ApiSettings
from services.client import LedgerClient
from services.going_live import LabSettingsRefused


def this_months_cycle(account_id: str, now: datetime, plan: str = "solo") -> CycleRenewed:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return CycleRenewed(
        command_id=f"demo-cycle-{start:%Y-%m}",
        account_id=account_id,
        occurred_at=now,
        plan=plan,
        cycle_start=start,
        cycle_end=end,
    )


async def seed(settings: ApiSettings) -> str:
    command = this_months_cycle(settings.api_demo_account, datetime.now(UTC))
    async with LedgerClient(settings, timeout_s=60) as ledger:
        outcome = await ledger.submit(command)
    verdict = outcome.status if outcome.code is None else f"{outcome.status} ({outcome.code})"
    until = f"{command.cycle_end:%Y-%m-%d}"
    return f"demo: {command.account_id} {command.plan} cycle until {until}: {verdict}"


def main() -> int:
    settings = ApiSettings()
    if settings.environment == "production":
        raise LabSettingsRefused(["services.api.demo seeds a demo account: development only"])
    print(asyncio.run(seed(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
