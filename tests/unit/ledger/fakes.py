"""An in-memory event store for the ledger's batch loop, as a unit of work is faked in the
service-layer tests of Architecture Patterns with Python: the shell runs unchanged, and the
tests look at what it stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from eventsourcing.persistence import Tracking

from events.commands import Command
from events.ledger import LedgerEvent
from services.ledger.chain import GENESIS
from services.ledger.core import Account, evolve
from services.ledger.core.past import SHARED, keys_of, store_wide
from services.ledger.intake import Incoming
from services.ledger.recorders import IndexRow, Wanted
from services.ledger.store import Fetched, Loaded, look_up_one_by_one, seal
from services.ledger.upcasting import Recorded

TOPIC = "kalema.credits.commands"


class FakeStore:
    """Streams, the index of past keys, positions and snapshots, in dictionaries."""

    def __init__(self, snapshot_every: int = 200) -> None:
        self.snapshot_every = snapshot_every
        self.streams: dict[str, list[Recorded]] = {}
        self.index: dict[Wanted, LedgerEvent] = {}
        self.positions: dict[str, int] = {}
        self.snapshots: list[tuple[str, int]] = []  # (account, version) saved
        self.loads: Counter[str] = Counter()  # streams read, per account
        self.unreadable: set[str] = set()  # accounts whose stream cannot be decoded
        self.snapshots_fail = False

    def load_with_head(self, account_id: str) -> Loaded:
        self.loads[account_id] += 1
        if account_id in self.unreadable:
            raise ValueError("an event that cannot be decoded")
        state, head = Account(), GENESIS
        for recorded in self.streams.get(account_id, []):
            state, head = evolve(state, recorded.event), recorded.chain
        return state, head

    def recall(self, wanted: Iterable[Wanted]) -> dict[Wanted, LedgerEvent]:
        held = {w: (SHARED, w[1]) if store_wide(w[1]) else w for w in set(wanted)}
        return {w: self.index[at] for w, at in held.items() if at in self.index}

    def look_up(
        self, wanted: Iterable[Wanted], accounts: Sequence[str]
    ) -> tuple[dict[Wanted, LedgerEvent], Fetched]:
        return look_up_one_by_one(self, wanted, accounts)

    def seal(self, account_id: str, version: int, event: LedgerEvent, previous: str) -> Recorded:
        return seal(account_id, version, event, previous)

    def append(
        self,
        recorded: Sequence[Recorded],
        *positions: Tracking,
        index: Sequence[IndexRow] | None = None,
    ) -> None:
        if index is not None:  # the caller's rows: each event's keys, as the store's own
            expected = [(r.originator_id, k, r.originator_version)
                        for r in recorded for k in keys_of(r.event)]  # fmt: skip
            assert list(index) == expected, (index, expected)
        for r in recorded:
            stream = self.streams.setdefault(r.originator_id, [])
            assert r.originator_version == len(stream) + 1, "versions run 1..n"
            stream.append(r)
            for key in keys_of(r.event):
                self.index[(SHARED if store_wide(key) else r.originator_id, key)] = r.event
        for position in positions:
            self.positions[position.application_name] = position.notification_id

    def save_snapshots(self, states: Iterable[tuple[str, Account, str]]) -> None:
        if self.snapshots_fail:
            raise OSError("the snapshot table is away")
        self.snapshots += [(account_id, state.version) for account_id, state, _ in states]

    def position(self, source: str) -> int | None:
        return self.positions.get(source)

    def events(self, account_id: str) -> list[str]:
        return [type(r.event).__name__ for r in self.streams.get(account_id, [])]


def records(*commands: Command | bytes, first_offset: int = 0) -> list[Incoming]:
    """The commands as records of partition 0, keyed by their account (raw bytes: by acct-1)."""
    found = []
    for offset, command in enumerate(commands, start=first_offset):
        if isinstance(command, bytes):
            found.append(Incoming(TOPIC, 0, offset, b"acct-1", command))
        else:
            key = command.account_id.encode()
            found.append(Incoming(TOPIC, 0, offset, key, command.model_dump_json().encode()))
    return found
