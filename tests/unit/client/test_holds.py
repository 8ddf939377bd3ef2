"""The hold's own logic over a fake ledger (no broker): which commands it sends, with which
ids, and that leaving the block never hides the work's error behind a failed release."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from events.commands import Command, ReleaseHold, ReserveCredits, SettleHold
from events.ledger import Draw
from events.outcomes import Outcome
from services.client import LedgerTimeout
from services.client.holds import HoldHandle


class FakeLedger:
    """Accepts every command; a reserve sets aside ``reserve_credits`` from one lot."""

    def __init__(self, reserve_credits: int = 50, release_fails: bool = False) -> None:
        self.sent: list[Command] = []
        self.reserve_credits = reserve_credits
        self.release_fails = release_fails
        self.tasks: list[asyncio.Task[Any]] = []

    async def execute(self, command: Command) -> Outcome:
        return await self.submit(command)

    async def submit(self, command: Command) -> Outcome:
        self.sent.append(command)
        if isinstance(command, ReleaseHold) and self.release_fails:
            raise LedgerTimeout("no outcome")
        charged: tuple[Draw, ...] = ()
        if isinstance(command, ReserveCredits | SettleHold):
            credits = getattr(command, "credits", None) or self.reserve_credits
            charged = (Draw(lot_id="package:p", kind="purchased", credits=credits),)
        return Outcome(
            command_id=command.command_id,
            account_id=command.account_id,
            command_type=type(command).__name__,
            status="accepted",
            charged=charged,
        )

    def in_background(self, work: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self.tasks.append(task)
        return task


def hold_on(ledger: FakeLedger) -> HoldHandle:
    return HoldHandle(
        ledger,  # type: ignore[arg-type]
        "acct-1",
        "article_generation",
        units=1,
        credits=None,
        hold_id="job-9",
        hold_for=timedelta(hours=1),
    )


async def test_a_holds_commands_are_named_after_the_hold():
    ledger = FakeLedger()

    async with hold_on(ledger) as hold:
        await hold.settle(20)

    assert [c.command_id for c in ledger.sent] == ["job-9:reserve", "job-9:settle"]
    reserve = ledger.sent[0]
    assert isinstance(reserve, ReserveCredits)
    assert reserve.expires_at - reserve.occurred_at == timedelta(hours=1)


async def test_a_settle_above_what_was_reserved_charges_what_was_reserved():
    ledger = FakeLedger(reserve_credits=50)

    async with hold_on(ledger) as hold:
        await hold.settle(80)

    settle = ledger.sent[-1]
    assert isinstance(settle, SettleHold) and settle.credits == 50


async def test_a_settle_without_an_amount_charges_everything_reserved():
    ledger = FakeLedger(reserve_credits=50)

    async with hold_on(ledger) as hold:
        await hold.settle()

    assert ledger.sent[-1].credits == 50  # type: ignore[attr-defined]


async def test_a_failed_release_never_hides_the_error_that_left_the_block():
    ledger = FakeLedger(release_fails=True)

    with pytest.raises(RuntimeError, match="the model crashed"):
        async with hold_on(ledger):
            raise RuntimeError("the model crashed")

    assert [c.command_id for c in ledger.sent] == ["job-9:reserve", "job-9:release"]
