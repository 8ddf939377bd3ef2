"""A hold as an async context manager: reserve before long work, settle what it cost, and
give everything back if the work never gets to settle.

    async with ledger.hold("acct-1", "article_generation", units=1, hold_id=job.id) as hold:
        text = await generate(job)            # InsufficientCredits was raised before this
        await hold.settle(cost_of(text))      # at most what was reserved

Why the command ids come from the hold id (``<hold_id>:reserve``, ``:settle``, ``:release``):
the ledger answers a repeated command id with its first outcome, so a job that is retried with
its hold id, or a settle that is sent again after a timeout, is never charged twice.

Why the release is shielded: a cancelled worker (a shutdown, a timeout around the job) must
still give its credits back at once, not when the hold expires. The release runs as a task of
its own that the cancellation does not reach, and ``LedgerClient.stop`` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

from events.commands import ReleaseHold, ReserveCredits, SettleHold
from events.outcomes import Outcome
from events.refusals import Refusal

if TYPE_CHECKING:
    from services.client.client import LedgerClient

log = logging.getLogger("kalema.client.holds")


class HoldHandle:
    """The producer's handle on credits set aside on one account for one piece of work (see the
    module's docstring); the ledger's own record of a hold is the core's ``Hold``.

    ``reserved`` is what the reserve set aside, ``reserve_outcome`` its outcome, ``outcome``
    the settle's or release's once the hold is closed."""

    def __init__(
        self,
        ledger: LedgerClient,
        account_id: str,
        tool: str,
        *,
        units: int | None,
        credits: int | None,
        hold_id: str,
        hold_for: timedelta,
    ) -> None:
        self.ledger = ledger
        self.account_id = account_id
        self.tool = tool
        self.units = units
        self.credits = credits
        self.hold_id = hold_id
        self.hold_for = hold_for
        self.reserved = 0
        self.reserve_outcome: Outcome | None = None
        self.outcome: Outcome | None = None

    def command_id(self, step: str) -> str:
        """The id of this hold's ``reserve``, ``settle`` or ``release`` command."""
        return f"{self.hold_id}:{step}"

    async def __aenter__(self) -> Self:
        now = datetime.now(UTC)
        reserve = ReserveCredits(
            command_id=self.command_id("reserve"),
            account_id=self.account_id,
            occurred_at=now,
            hold_id=self.hold_id,
            tool=self.tool,
            units=self.units,
            credits=self.credits,
            expires_at=now + self.hold_for,
        )
        try:
            self.reserve_outcome = await self.ledger.execute(reserve)
        except Refusal:
            raise  # decided: nothing was set aside
        except BaseException:
            # A timeout or a cancellation: the reserve may still be decided. Give it back (the
            # release follows the reserve on the account's partition, so it is decided after).
            self.ledger.in_background(self._release_quietly())
            raise
        self.reserved = sum(draw.credits for draw in self.reserve_outcome.charged)
        return self

    async def settle(self, credits: int | None = None) -> Outcome:
        """Charge ``credits`` (all that was reserved if None), at most what was reserved, and
        give the rest back. A retried settle is answered with the first one's outcome."""
        charge = self.reserved if credits is None else credits
        if charge > self.reserved:
            log.warning(
                "hold %s: the work cost %d credits, %d were reserved; charging %d",
                self.hold_id,
                charge,
                self.reserved,
                self.reserved,
            )
            charge = self.reserved
        settle = SettleHold(
            command_id=self.command_id("settle"),
            account_id=self.account_id,
            occurred_at=datetime.now(UTC),
            hold_id=self.hold_id,
            credits=charge,
        )
        self.outcome = await self.ledger.execute(settle)
        return self.outcome

    async def release(self) -> Outcome:
        """Give everything back now (what leaving the block without settling does)."""
        self.outcome = await self.ledger.execute(self._release_command())
        return self.outcome

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.outcome is not None:
            return  # settled or released
        # Shielded: a second cancellation may stop the wait, never the release.
        await asyncio.shield(self.ledger.in_background(self._release_quietly()))

    async def _release_quietly(self) -> None:
        """Release, never raising over the error that left the block: a hold that was settled
        after all is refused ``hold_not_open``, and one whose release is lost expires."""
        try:
            outcome = await self.ledger.submit(self._release_command())
        except Exception:
            log.exception("hold %s: the release failed; it expires by itself", self.hold_id)
            return
        if outcome.status == "accepted":
            self.outcome = outcome
        else:
            log.info("hold %s: release %s (%s)", self.hold_id, outcome.status, outcome.code)

    def _release_command(self) -> ReleaseHold:
        return ReleaseHold(
            command_id=self.command_id("release"),
            account_id=self.account_id,
            occurred_at=datetime.now(UTC),
            hold_id=self.hold_id,
        )
