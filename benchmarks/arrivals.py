"""When each command's outcome and its account's balance arrived on Kafka, for the end-to-end
benchmark: the outcomes topic read with ``TopicTail`` (orjson: the harness shares the cores
with what it measures), the balances topic with ``balance_latency.Balances``.

Lost work must be loud: ``settle`` waits until every command sent has its outcome and every
account touched has a balance at its final stream version, or until nothing has moved for
``stall_s``; what never came is counted, never ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from benchmarks.balance_latency import Balances
from events.commands import Command
from services.settings import Settings
from services.tail import TopicTail

POLL_S = 0.1


class Outcomes:
    """Every outcome on the outcomes topic, from its beginning."""

    def __init__(self, settings: Settings) -> None:
        self.tail = TopicTail(settings, "outcomes", self._arrived, from_end=False, poll_ms=100)
        self.count = 0
        self.answers: Counter[str] = Counter()  # outcomes per command_id
        self.effects: Counter[str] = Counter()  # outcomes that were not repeats
        self.first: dict[str, tuple[float, int | None]] = {}  # (when, stream_version)
        self.stamped: dict[str, float] = {}  # the first outcome's record time (the ledger's clock)
        self.version: dict[str, int] = {}  # highest stream version seen per account
        self.last = 0.0

    def _arrived(self, record: Any) -> None:
        now = time.monotonic()
        outcome = orjson.loads(record.value)
        command_id, version = outcome["command_id"], outcome.get("stream_version")
        self.count += 1
        self.last = now
        self.answers[command_id] += 1
        if not outcome.get("repeat"):
            self.effects[command_id] += 1
        self.first.setdefault(command_id, (now, version))
        self.stamped.setdefault(command_id, record.timestamp / 1000)
        account = outcome["account_id"]
        if version is not None and version > self.version.get(account, 0):
            self.version[account] = version


@dataclass
class Settled:
    """How a batch of commands ended: when its last outcome and last balance arrived, and
    what never did."""

    last_outcome: float
    last_balance: float
    outcomes_missing: int
    balances_missing: int
    repeats: int  # retries answered as repeats
    second_effects: int  # commands that took effect more than once (must be 0)


Step = Callable[[int, int], None]


async def settle(
    outcomes: Outcomes,
    balances: Balances,
    sent: list[Command],
    earlier: Counter[str],
    stall_s: float,
    step: Step,
) -> Settled:
    """Wait for the outcomes of ``sent`` (one per send, counting the sends of the same ids in
    ``earlier`` batches), then for every account's balance to reach its final stream version."""
    now = Counter(c.command_id for c in sent)
    expected = Counter({c: n + earlier[c] for c, n in now.items()})
    total = sum(expected.values())
    base = outcomes.count - sum(outcomes.answers[c] for c in expected)  # the others' outcomes
    await _until(lambda: outcomes.count - base, total, stall_s, step)
    if _missing(outcomes, expected):  # the count may include late outcomes of another batch
        await _until(lambda: total - _missing(outcomes, expected), total, stall_s, step)
    last_outcome = outcomes.last  # nothing else is being sent while a batch settles
    accounts = {c.account_id for c in sent}
    due = [balances.at(a, outcomes.version[a]) for a in accounts if a in outcomes.version]
    await _until(lambda: sum(f.done() for f in due), len(due), stall_s, step)
    arrived = [f.result() for f in due if f.done()]
    return Settled(
        last_outcome=last_outcome,
        last_balance=max(arrived, default=0.0),
        # this batch's sends unanswered (an earlier batch's are counted there)
        outcomes_missing=sum(
            min(n, max(0, expected[c] - outcomes.answers[c])) for c, n in now.items()
        ),
        balances_missing=len(due) - len(arrived) + len(accounts - outcomes.version.keys()),
        repeats=sum(outcomes.answers[c] - outcomes.effects[c] for c in expected),
        second_effects=sum(1 for c in expected if outcomes.effects[c] > 1),
    )


def _missing(outcomes: Outcomes, expected: Counter[str]) -> int:
    return sum(max(0, n - outcomes.answers[c]) for c, n in expected.items())


async def _until(done: Callable[[], int], total: int, stall_s: float, step: Step) -> None:
    """Until ``done()`` reaches ``total``, or it has not moved for ``stall_s``."""
    seen, moved = -1, time.monotonic()
    while (now := done()) < total:
        if now != seen:
            seen, moved = now, time.monotonic()
            step(now, total)
        elif time.monotonic() - moved > stall_s:
            return
        await asyncio.sleep(POLL_S)
    step(total, total)
