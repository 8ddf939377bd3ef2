"""A reproducible command log for many accounts: plans, packages, uses, holds, refunds,
repeats and refusals, in rising time. Used by the crash test and the benchmarks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from events.commands import (
    BuyPackage,
    Command,
    CycleRenewed,
    RefundUsage,
    ReserveCredits,
    SettleHold,
    UseTool,
)

START = datetime(2026, 11, 1, tzinfo=UTC)
TOOLS = [
    "keyword_suggestions",
    "meta_description",
    "content_analysis",
    "image_generation",
    "article_generation",
]


def command_log(commands: int, accounts: int, seed: int = 7) -> list[Command]:
    """``commands`` commands spread over ``accounts`` accounts, each account's in order."""
    rng = random.Random(seed)
    names = [f"acct-{seed}-{n:05d}" for n in range(accounts)]
    made: dict[str, list[Command]] = {name: [] for name in names}
    log: list[Command] = []
    for n in range(commands):
        account = names[n % accounts] if n < accounts else rng.choice(names)
        history = made[account]
        command = _next(rng, account, history, n)
        history.append(command)
        log.append(command)
    return log


def _next(rng: random.Random, account: str, history: list[Command], n: int) -> Command:
    base = {
        "command_id": f"{account}-{len(history)}",
        "account_id": account,
        "occurred_at": START + timedelta(minutes=n),
    }
    if not history:
        return CycleRenewed(
            **base,
            plan=rng.choice(["solo", "business", "agency"]),
            cycle_start=START,
            cycle_end=START + timedelta(days=30),
        )
    roll = rng.random()
    if roll < 0.05:
        return history[rng.randrange(len(history))]  # a producer's retry
    if roll < 0.12:
        return BuyPackage(
            **base,
            package=rng.choice(["small", "medium"]),
            payment_ref=f"pay-{account}-{len(history)}",
        )
    if roll < 0.17:
        return ReserveCredits(
            **base,
            hold_id=f"hold-{len(history)}",
            tool="article_generation",
            units=rng.randint(1, 4),
            expires_at=base["occurred_at"] + timedelta(hours=rng.randint(1, 48)),
        )
    holds = [c for c in history if isinstance(c, ReserveCredits)]
    if roll < 0.22 and holds:
        return SettleHold(**base, hold_id=rng.choice(holds).hold_id, credits=rng.randint(0, 60))
    uses = [c for c in history if isinstance(c, UseTool)]
    if roll < 0.25 and uses:
        return RefundUsage(**base, of_command_id=rng.choice(uses).command_id)
    return UseTool(**base, tool=rng.choice(TOOLS), units=rng.randint(1, 12))
