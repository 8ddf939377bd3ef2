"""A billing feed: renews a set of subscriptions on their cycle boundaries and sells packages,
as the billing system does, straight onto the ledger's commands topic.

    .venv/bin/python -m examples.billing_feed --months 3

Every subscription renews monthly on its anchor day (the day it began; the 31st renews on the
last day of shorter months), so a credit cycle lasts 28 to 31 days. A yearly plan is paid once
a year but still renews a monthly cycle every month (``billing_interval: yearly``): the ledger
grants a cycle's allowance for one cycle at a time, never a year's. Months are simulated from
``--start`` (this month by default), each renewal stamped at its cycle's start. Command ids and
payment refs are derived from the account and the date, so running the feed again is answered
with the first outcomes and renews or sells nothing twice.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from events.commands import BuyPackage, Command, CycleRenewed
from events.outcomes import Outcome
from services.client import LedgerClient
from services.settings import Settings

PACKAGES = ["small", "medium", "large"]


@dataclass(frozen=True)
class Subscription:
    account_id: str
    plan: str
    billing_interval: Literal["monthly", "yearly"]
    anchor_day: int  # the day of the month it began, 1 to 31


SUBSCRIPTIONS = [
    Subscription("acct-billing-solo", "solo", "monthly", 1),
    Subscription("acct-billing-business", "business", "yearly", 15),
    Subscription("acct-billing-agency", "agency", "monthly", 31),
]


def boundary(anchor_day: int, year: int, month: int) -> datetime:
    """The anchor day in that month (its last day if the month is shorter), at midnight UTC."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return datetime(year, month, day, tzinfo=UTC)


def renewals(subscription: Subscription, start: date, months: int) -> list[CycleRenewed]:
    """The monthly cycles that begin in ``months`` months from ``start``'s month."""
    commands = []
    for n in range(months):
        cycle_start = boundary(subscription.anchor_day, start.year, start.month + n)
        cycle_end = boundary(subscription.anchor_day, start.year, start.month + n + 1)
        commands.append(
            CycleRenewed(
                command_id=f"renew:{subscription.account_id}:{cycle_start:%Y-%m-%d}",
                account_id=subscription.account_id,
                occurred_at=cycle_start,
                plan=subscription.plan,
                billing_interval=subscription.billing_interval,
                cycle_start=cycle_start,
                cycle_end=cycle_end,
            )
        )
    return commands


def sales(subscriptions: list[Subscription], start: date, months: int) -> list[BuyPackage]:
    """One package a month, to each account in turn, ten days into its cycle."""
    commands = []
    for n in range(months):
        buyer = subscriptions[n % len(subscriptions)]
        paid_at = boundary(buyer.anchor_day, start.year, start.month + n) + timedelta(days=10)
        payment_ref = f"pay:{buyer.account_id}:{paid_at:%Y-%m-%d}"
        commands.append(
            BuyPackage(
                command_id=payment_ref,
                account_id=buyer.account_id,
                occurred_at=paid_at,
                package=PACKAGES[n % len(PACKAGES)],
                payment_ref=payment_ref,
            )
        )
    return commands


def feed(subscriptions: list[Subscription], start: date, months: int) -> list[Command]:
    """Every renewal and sale, in the order billing would send them."""
    commands: list[Command] = [c for s in subscriptions for c in renewals(s, start, months)]
    commands += sales(subscriptions, start, months)
    return sorted(commands, key=lambda command: command.occurred_at)


async def run(
    settings: Settings,
    subscriptions: list[Subscription] = SUBSCRIPTIONS,
    *,
    start: date | None = None,
    months: int = 3,
) -> list[tuple[Command, Outcome]]:
    """Send the feed and print each outcome; returns each command with its outcome."""
    start = start or datetime.now(UTC).date()
    ended: list[tuple[Command, Outcome]] = []
    async with LedgerClient(settings, timeout_s=20) as ledger:
        for command in feed(subscriptions, start, months):
            outcome = await ledger.submit(command)
            verdict = outcome.status if outcome.code is None else f"refused ({outcome.code})"
            verdict += " (repeat)" if outcome.repeat else ""
            total = outcome.balance.total if outcome.balance else "?"
            print(f"{_describe(command)}: {verdict}; balance {total}", flush=True)
            ended.append((command, outcome))
    return ended


def _describe(command: Command) -> str:
    when = f"{command.occurred_at:%Y-%m-%d}"
    if isinstance(command, CycleRenewed):
        return (
            f"{when} {command.account_id} renews {command.plan} ({command.billing_interval}) "
            f"to {command.cycle_end:%Y-%m-%d}"
        )
    assert isinstance(command, BuyPackage)
    return f"{when} {command.account_id} buys a {command.package} package"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--start", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    asyncio.run(run(Settings(), start=args.start, months=args.months))
    return 0


if __name__ == "__main__":
    sys.exit(main())
