"""Verification: replay every account from its events, compare with its stored snapshots,
and check every stream's hash chain. (The balance read model is checked by
``projections.maintenance.check``; ``credits verify`` runs both.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent

from services.ledger import snapshots
from services.ledger.chain import GENESIS, link
from services.ledger.core import Account, evolve
from services.ledger.store import LedgerStore, Recorded, unseal


@dataclass(frozen=True, slots=True)
class Problem:
    account_id: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.account_id}: {self.check}: {self.detail}"


def streams(store: LedgerStore, page: int = 5_000) -> dict[str, list[StoredEvent]]:
    """Every account's stored events in version order, read once from the notification log."""
    found: dict[str, list[StoredEvent]] = defaultdict(list)
    start = 1
    while notifications := store.recorder.select_notifications(start, page):
        for notification in notifications:
            found[str(notification.originator_id)].append(notification)
        start = notifications[-1].id + 1
    for rows in found.values():
        rows.sort(key=lambda row: row.originator_version)
    return found


def check_chain(account_id: str, rows: list[StoredEvent]) -> Iterator[Problem]:
    """Versions run 1..n without a gap and every hash links onto the one before it."""
    previous = GENESIS
    for expected, row in enumerate(rows, start=1):
        version = row.originator_version
        if version != expected:
            yield Problem(account_id, "chain", f"version {expected} is missing (found {version})")
            return
        try:
            chain, payload = unseal(row.state)
        except ValueError as error:
            yield Problem(account_id, "chain", f"event {version} is unreadable: {error}")
            return
        if link(previous, account_id, version, payload) != chain:
            yield Problem(account_id, "chain", f"event {version} was altered or moved")
            return
        previous = chain


def check_snapshots(
    store: LedgerStore, account_id: str, replayed: dict[int, tuple[Account, str]]
) -> Iterator[Problem]:
    """Every stored snapshot equals the replay of the events up to its version."""
    if store.snapshots is None:
        return
    for snapshot in store.snapshots.recorder.select_events(account_id):
        try:
            stored = snapshots.load(snapshot.state)
        except ValueError as error:
            yield Problem(account_id, "snapshot", f"version {snapshot.originator_version}: {error}")
            continue
        if replayed.get(snapshot.originator_version) != stored:
            yield Problem(
                account_id,
                "snapshot",
                f"snapshot at version {snapshot.originator_version} differs from replay",
            )


def verify(
    store: LedgerStore, *, chain: bool, progress: Callable[[int, int], None] | None = None
) -> list[Problem]:
    """All problems found in the store (empty when everything agrees). ``progress`` is told
    (accounts verified, accounts in all) as it goes."""
    problems: list[Problem] = []
    found = streams(store)
    for done, (account_id, rows) in enumerate(found.items(), start=1):
        if progress is not None:
            progress(done, len(found))
        if chain:
            problems += check_chain(account_id, rows)
        try:
            replayed = _replay(store.mapper.to_domain_event(row) for row in rows)
        except Exception as error:  # a damaged stream: say so, check the other accounts
            problems.append(Problem(account_id, "replay", f"fails: {type(error).__name__} {error}"))
            continue
        problems += check_snapshots(store, account_id, replayed)
    return problems


def _replay(events: Iterable[Recorded]) -> dict[int, tuple[Account, str]]:
    """The account (and chain head) after every version."""
    state, after = Account(), {}
    for recorded in events:
        state = evolve(state, recorded.event)
        after[state.version] = (state, recorded.chain)
    return after
