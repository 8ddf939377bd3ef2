"""What falls due when, for every account: the clock's pure part (no I/O, no wall clock).

An account is due at the earliest instant at which the ledger would record something without
being asked: an open lot ends (a cycle's end or the next cycle's start, a grant's expiry), an
open hold reaches its ``expires_at``, or a cycle renewed early starts. The rule is the core's
own (``lots.ends``, as ``catch_up`` uses it), read from the balance read model's account, so
the schedule is derived and rebuilt from the read model on every start.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import datetime

from events.commands import ExpireHolds
from services.ledger.core import Account, ends, started

ID_LIMIT = 128  # events.commands.Identifier


def next_due(account: Account) -> datetime | None:
    """The earliest instant at which time alone changes this account (None: never): a lot
    ends (its expiry, or for a cycle's lot the next cycle's start: ``lots.ends``, the very
    rule ``catch_up`` applies), a hold expires, or a cycle renewed early starts (its credits
    join the balance then)."""
    until = [end for end in ends(account).values() if end is not None]
    starts = [
        lot.starts_at
        for lot in account.lots.values()
        if lot.starts_at is not None and not started(lot, account.as_of)
    ]
    holds = [hold.expires_at for hold in account.holds.values()]
    return min(until + starts + holds, default=None)


def command_id(account_id: str, due: datetime) -> str:
    """The same id for the same account and instant, whichever clock sends it, however often:
    the ledger answers a repeat with the first outcome."""
    instant = due.strftime("%Y%m%dT%H%M%S.%fZ")
    readable = f"clock:{instant}:{account_id}"
    if len(readable) <= ID_LIMIT:
        return readable
    digest = hashlib.sha256(f"{account_id}\n{instant}".encode()).hexdigest()
    return f"clock:{instant}:{digest}"


def expiry(account_id: str, due: datetime) -> ExpireHolds:
    """The command that makes the ledger catch up with time at ``due``: any command records
    what expired by its ``occurred_at`` first, and ``ExpireHolds`` decides nothing else."""
    return ExpireHolds(
        command_id=command_id(account_id, due), account_id=account_id, occurred_at=due
    )


class Schedule:
    """Each account's next due instant, earliest first (a heap with lazy deletion)."""

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def set(self, account_id: str, due: datetime | None) -> None:
        """Replace the account's due instant (None: nothing is due)."""
        if due is None:
            self._due.pop(account_id, None)
            return
        if self._due.get(account_id) != due:
            self._due[account_id] = due
            heapq.heappush(self._heap, (due, account_id))

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()

    def next_instant(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> list[tuple[str, datetime]]:
        """Every (account, instant) due at or before ``now``, removed from the schedule."""
        fired = []
        while (instant := self.next_instant()) is not None and instant <= now:
            due, account_id = heapq.heappop(self._heap)
            del self._due[account_id]
            fired.append((account_id, due))
        return fired

    def backlog(self, now: datetime) -> int:
        """Accounts whose instant has passed and that are still waiting to be sent."""
        return sum(1 for due in self._due.values() if due <= now)

    def _drop_stale(self) -> None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
