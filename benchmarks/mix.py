"""The end-to-end benchmark's commands (issue 15): accounts opened with a plan (some with a
package), then about 90% ``UseTool``, 5% ``BuyPackage``, 3% holds (1.5% reserve; the
account's next command settles or releases it), 2% renewals, and ``retries`` of them sent
again with the same ``command_id`` (a producer's retry: its outcome must be a repeat, not a
second effect).

Unlike ``tests/workload.py`` (a log for the crash test, heavy on refunds and retries) this is
the mix of the issue. An account's commands stay in order: they are sent by one producer.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

from events.commands import (
    BuyPackage,
    Command,
    CycleRenewed,
    ReleaseHold,
    ReserveCredits,
    SettleHold,
    UseTool,
)
from tests.workload import START, TOOLS

CYCLE = timedelta(days=30)
HOLD_FOR = timedelta(hours=23)  # the catalog allows 24
HOLD_TOOL, HOLD_UNIT_CREDITS = "article_generation", 50  # the catalog's price of one unit
Message = tuple[bytes, bytes]
"""A pre-encoded command: (key, value), as the producers send it."""


@dataclass
class _Account:
    name: str
    made: list[Command] = field(default_factory=list)
    holds: list[tuple[str, int]] = field(default_factory=list)  # open: (hold_id, credits)
    cycles: int = 1


class Mix:
    """Commands for ``accounts`` accounts, each call continuing where the last one ended."""

    def __init__(self, accounts: int, seed: int = 15) -> None:
        self.rng = random.Random(seed)
        self.accounts = [_Account(f"acct-{seed}-{n:06d}") for n in range(accounts)]
        self.clock = START

    def opening(self, package_every: int = 3) -> list[Command]:
        """A plan for every account (``CycleRenewed``), and a package for every third."""
        log: list[Command] = []
        for n, account in enumerate(self.accounts):
            plan = self.rng.choice(["solo", "business", "agency"])
            log.append(
                self._made(
                    account, CycleRenewed, plan=plan, cycle_start=START, cycle_end=START + CYCLE
                )
            )
            if n % package_every == 0:
                log.append(self._package(account))
        return log

    def commands(self, count: int, retries: float = 0.01) -> list[Command]:
        """``count`` commands of the issue's mix over random accounts, ``retries`` of them
        an earlier command of the account sent again."""
        log: list[Command] = []
        for _ in range(count):
            account = self.rng.choice(self.accounts)
            if self.rng.random() < retries and account.made:
                log.append(self.rng.choice(account.made))
            else:
                log.append(self._next(account))
        return log

    def _next(self, account: _Account) -> Command:
        if account.holds:  # the work is done: the account's next command settles or releases
            hold_id, credits = account.holds.pop()
            if self.rng.random() < 0.7:
                return self._made(
                    account, SettleHold, hold_id=hold_id, credits=self.rng.randint(0, credits)
                )
            return self._made(account, ReleaseHold, hold_id=hold_id)
        roll = self.rng.random()
        if roll < 0.05:
            return self._package(account)
        if roll < 0.065:
            units = self.rng.randint(1, 2)
            hold_id = f"hold-{len(account.made)}"
            account.holds.append((hold_id, units * HOLD_UNIT_CREDITS))
            return self._made(
                account,
                ReserveCredits,
                hold_id=hold_id,
                tool=HOLD_TOOL,
                units=units,
                expires_at=self.clock + HOLD_FOR,
            )
        if roll < 0.085:
            start = START + account.cycles * CYCLE
            account.cycles += 1
            plan = self.rng.choice(["solo", "business", "agency"])
            return self._made(
                account, CycleRenewed, plan=plan, cycle_start=start, cycle_end=start + CYCLE
            )
        return self._made(
            account, UseTool, tool=self.rng.choice(TOOLS), units=self.rng.randint(1, 3)
        )

    def _package(self, account: _Account) -> Command:
        return self._made(
            account,
            BuyPackage,
            package=self.rng.choice(["small", "medium"]),
            payment_ref=f"pay-{account.name}-{len(account.made)}",
        )

    def _made(self, account: _Account, kind: type[Command], **fields: object) -> Command:
        self.clock += timedelta(seconds=1)
        command = kind(
            command_id=f"{account.name}-{len(account.made)}",
            account_id=account.name,
            occurred_at=self.clock,
            **fields,
        )
        account.made.append(command)
        return command


def encoded(commands: list[Command]) -> list[Message]:
    """The commands as the wire carries them (before any clock starts)."""
    return [(c.account_id.encode(), c.model_dump_json().encode()) for c in commands]


def by_producer(messages: list[Message], producers: int) -> list[list[Message]]:
    """The messages shared out by account, so one account's commands keep their order."""
    shares: list[list[Message]] = [[] for _ in range(producers)]
    for message in messages:
        shares[zlib.crc32(message[0]) % producers].append(message)
    return shares
