"""``python -m services.api.demo``: give the demo account this month's Solo cycle, as billing
would, and a few days of varied use in it (the last week's, up to now), so the page has
subscription credits, a usage chart and a forecast to show. Development only; safe to repeat
(every command id is the month's or the day's, so a repeat is answered with its first outcome,
and a run on a later day adds that day's uses)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta

from events.commands import CycleRenewed, UseTool
from events.outcomes import Outcome
from services.api.settings import ApiSettings
from services.client import LedgerClient
from services.going_live import LabSettingsRefused
from services.ledger.catalog_file import load_catalog

DAYS_OF_USE = 7
# A busy writer's week, one pattern a weekday: (tool, uses), each day ending with two keyword
# suggestions, so the latest activity reads "Keyword suggestions × 2". About fifty credits a
# day: at that pace Solo's credits run out before the month does, which the forecast shows.
WEEK: tuple[tuple[tuple[str, int], ...], ...] = (
    (("article_generation", 1), ("content_analysis", 1)),
    (("article_generation", 1),),
    (("meta_description", 2), ("content_analysis", 2), ("image_generation", 1)),
    (("image_generation", 1), ("keyword_suggestions", 4)),
    (("keyword_suggestions", 5), ("meta_description", 1), ("article_generation", 1)),
    (("content_analysis", 1), ("meta_description", 2)),
    (("article_generation", 1),),
)


def this_months_cycle(account_id: str, now: datetime, plan: str = "solo") -> CycleRenewed:
    """The month's cycle, renewed at its first instant, as billing renews it."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return CycleRenewed(
        command_id=f"demo-cycle-{start:%Y-%m}",
        account_id=account_id,
        occurred_at=start,
        plan=plan,
        cycle_start=start,
        cycle_end=end,
    )


def days_of_use(account_id: str, now: datetime) -> list[UseTool]:
    """The uses of the last ``DAYS_OF_USE`` days of this month's cycle up to ``now``, in time
    order: each day's pattern from 09:00, ten minutes apart, none later than ``now``."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = max(start.date(), now.date() - timedelta(days=DAYS_OF_USE - 1))
    uses = []
    for n in range((now.date() - first).days + 1):
        day = first + timedelta(days=n)
        for index, (tool, units) in enumerate((*WEEK[day.weekday()], ("keyword_suggestions", 2))):
            uses.append(_use(account_id, day, index, tool, units, now))
    return uses


def _use(account_id: str, day: date, index: int, tool: str, units: int, now: datetime) -> UseTool:
    at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(minutes=10 * index)
    return UseTool(
        command_id=f"demo-use-{day}-{index}",
        account_id=account_id,
        occurred_at=min(at, now),
        tool=tool,
        units=units,
    )


async def seed(settings: ApiSettings, now: datetime | None = None) -> list[Outcome]:
    """Renew the demo account's cycle and send the week's uses the credits cover (a use the
    balance cannot pay for is left out, so the demo's history holds no refusals)."""
    now, catalog = now or datetime.now(UTC), load_catalog()
    cycle = this_months_cycle(settings.api_demo_account, now)
    async with LedgerClient(settings, timeout_s=60) as ledger:
        outcomes = [await ledger.submit(cycle)]
        for use in days_of_use(settings.api_demo_account, now):
            balance = outcomes[-1].balance
            if balance is not None and catalog.tools[use.tool].credits * use.units <= balance.total:
                outcomes.append(await ledger.submit(use))
    return outcomes


def said(outcomes: list[Outcome]) -> str:
    cycle, uses = outcomes[0], outcomes[1:]
    verdict = cycle.status if cycle.code is None else f"{cycle.status} ({cycle.code})"
    total = outcomes[-1].balance.total if outcomes[-1].balance else 0
    return f"demo: {cycle.account_id} cycle {verdict}, {len(uses)} uses, {total:,} credits left"


def main() -> int:
    settings = ApiSettings()
    if settings.environment == "production":
        raise LabSettingsRefused(["services.api.demo seeds a demo account: development only"])
    print(said(asyncio.run(seed(settings))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
