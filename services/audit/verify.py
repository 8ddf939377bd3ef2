"""Verification: replay every account from its events, compare with its stored snapshots,
and check every stream's hash chain. (The balance read model is checked by
``projections.maintenance.check``; ``credits verify`` runs both.)"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime

from eventsourcing.persistence import StoredEvent

from events.checkpoints import ChainHead
from services.audit.checkpoints import check_heads
from services.audit.finding import Finding
from services.ledger import snapshots
from services.ledger.chain import GENESIS, broken, is_keyed
from services.ledger.core import Account, evolve, keys_of
from services.ledger.store import LedgerStore
from services.ledger.upcasting import Recorded, unseal


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


def check_chain(
    account_id: str,
    rows: list[StoredEvent],
    keys: Mapping[str, bytes] | None = None,
    keyed_since: datetime | None = None,
) -> Iterator[Finding]:
    """Versions run 1..n without a gap and every hash links onto the one before it. With a
    key ring, keyed links are checked with the key each names, and an unkeyed link is legacy
    only before any keyed one and dated before ``keyed_since`` (when keying began); otherwise
    it is a stream rewritten without the key."""
    keys = keys or {}
    previous, keyed = GENESIS, False
    for expected, row in enumerate(rows, start=1):
        version = row.originator_version
        if version != expected:
            yield Finding(account_id, "chain", f"version {expected} is missing (found {version})")
            return
        try:
            chain, payload = unseal(row.state)
        except ValueError as error:
            yield Finding(account_id, "chain", f"event {version} is unreadable: {error}")
            return
        why = broken(chain, previous, account_id, version, payload, keys)
        legacy = not keys or (not keyed and _predates(payload, keyed_since))
        if why is None and not is_keyed(chain) and not legacy:
            why = "is unkeyed where the chain is keyed (rewritten without the key)"
        if why is not None:
            yield Finding(account_id, "chain", f"event {version} {why}")
            return
        previous, keyed = chain, keyed or is_keyed(chain)


def _predates(payload: bytes, since: datetime | None) -> bool:
    """Whether the event is dated before ``since`` (never, if there is no such instant)."""
    if since is None:
        return False
    try:
        return datetime.fromisoformat(json.loads(payload)["occurred_at"]) < since
    except (ValueError, KeyError, TypeError):
        return False  # an event without a readable time cannot claim to predate the key


def check_snapshots(
    store: LedgerStore, account_id: str, replayed: dict[int, tuple[Account, str]]
) -> Iterator[Finding]:
    """Every stored snapshot equals the replay of the events up to its version."""
    if store.snapshots is None:
        return
    for snapshot in store.snapshots.recorder.select_events(account_id):
        try:
            stored = snapshots.load(snapshot.state)
        except ValueError as error:
            yield Finding(account_id, "snapshot", f"version {snapshot.originator_version}: {error}")
            continue
        if replayed.get(snapshot.originator_version) != stored:
            yield Finding(
                account_id,
                "snapshot",
                f"snapshot at version {snapshot.originator_version} differs from replay",
            )


def check_index(
    account_id: str, events: Iterable[Recorded], stored: Mapping[str, int]
) -> Iterator[Finding]:
    """The history index holds exactly the keys the account's events answer, each pointing at
    the latest event that answers it. A key deleted from the index would let its command or
    payment apply again; a key that no event answers would refuse one never decided."""
    expected: dict[str, int] = {}
    for recorded in events:
        for key in keys_of(recorded.event):
            expected[key] = max(recorded.originator_version, expected.get(key, 0))
    for key, version in expected.items():
        if key not in stored:
            yield Finding(
                account_id,
                "index",
                f"key {key!r} is missing (event {version} answers it): it would apply again",
            )
        elif stored[key] != version:
            yield Finding(
                account_id,
                "index",
                f"key {key!r} points at version {stored[key]}, the log says {version}",
            )
    for key in stored.keys() - expected.keys():
        yield Finding(account_id, "index", f"key {key!r} answers no event of the log")


def verify(
    store: LedgerStore,
    *,
    chain: bool,
    heads: Iterable[ChainHead] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Finding]:
    """Every finding in the store (empty when everything agrees), checked against the
    chain-head checkpoints ``heads`` when given. ``progress`` is told (accounts verified,
    accounts in all) as it goes."""
    found = streams(store)
    findings = [] if heads is None else list(check_heads(heads, found, store.chain_keys))
    index: dict[str, dict[str, int]] | None = None
    if store.ledger_recorder.index_built():
        index = defaultdict(dict)
        for account_id, key, version in store.ledger_recorder.index_rows():
            index[account_id][key] = version
    else:
        findings.append(Finding("(store)", "index", "not built: run `credits index rebuild`"))
    for done, (account_id, rows) in enumerate(found.items(), start=1):
        if progress is not None:
            progress(done, len(found))
        if chain:
            since = store.settings.ledger_chain_keyed_since
            findings += check_chain(account_id, rows, store.chain_keys, since)
        try:
            events = [store.mapper.to_domain_event(row) for row in rows]
            replayed = _replay(events)
        except Exception as error:  # a damaged stream: say so, check the other accounts
            findings.append(Finding(account_id, "replay", f"fails: {type(error).__name__} {error}"))
            continue
        findings += check_snapshots(store, account_id, replayed)
        if index is not None:
            findings += check_index(account_id, events, index.pop(account_id, {}))
    for account_id, keys in (index or {}).items():  # accounts the log does not have
        findings += check_index(account_id, (), keys)
    return findings


def _replay(events: Iterable[Recorded]) -> dict[int, tuple[Account, str]]:
    """The account (and chain head) after every version."""
    state, after = Account(), {}
    for recorded in events:
        state = evolve(state, recorded.event)
        after[state.version] = (state, recorded.chain)
    return after
