"""The ledger's batch loop, free of any Kafka client: decide a fetch's records (one or more
partitions) against cached account states, then store their events and every partition's
position in one transaction."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from eventsourcing.persistence import PersistenceError, Tracking

from events.commands import Command
from events.ledger import CommandRefused, CreditsReserved, HoldSettled, LedgerEvent, ToolUsed
from events.outcomes import BalanceFigures, DeadLetter, DeadLetterReason, Outcome
from events.trusted import trusted
from services.ledger.core import (
    Account,
    Arrival,
    Catalog,
    Decision,
    Past,
    answered,
    credits_by_kind,
    handle,
    keys_for,
    keys_of,
)
from services.ledger.core.past import SHARED, store_wide
from services.ledger.intake import Incoming, dead_letter, read_command
from services.ledger.recorders import IndexRow, Wanted
from services.ledger.store import Fetched, Loaded, gc_paused
from services.ledger.upcasting import Recorded

log = logging.getLogger("kalema.ledger")

Handler = Callable[[Command, Account, Catalog, Past, Arrival | None], Decision]
# Refusals that mean the producer sent something it should not have: answered, and also
# dead-lettered (under the same name) so the mistake is seen where bad input is watched.
INPUT_REFUSALS: dict[str, DeadLetterReason] = {
    code: code for code in ("unknown_account", "unknown_tool", "unknown_package", "unknown_plan")
}


class Store(Protocol):
    """What the batch loop needs of the event store (``LedgerStore``; the unit tests pass an
    in-memory fake)."""

    snapshot_every: int

    def load_with_head(self, account_id: str) -> Loaded: ...
    def look_up(
        self, wanted: Iterable[Wanted], accounts: Sequence[str]
    ) -> tuple[dict[Wanted, LedgerEvent], Fetched]: ...
    def seal(
        self, account_id: str, version: int, event: LedgerEvent, previous: str
    ) -> Recorded: ...
    def append(
        self,
        recorded: Sequence[Recorded],
        *positions: Tracking,
        index: Sequence[IndexRow] | None = None,
    ) -> None: ...
    def save_snapshots(self, states: Iterable[tuple[str, Account, str]]) -> None: ...
    def position(self, source: str) -> int | None: ...


@dataclass
class Batch:
    """What a batch decided, ready to publish and to commit; ``positions`` holds, for each
    partition it read, the offset after its last record (keyed by ``source_name``)."""

    positions: dict[str, int]
    recorded: list[Recorded] = field(default_factory=list)
    index: list[IndexRow] = field(default_factory=list)  # every recorded event's keys
    outcomes: list[Outcome] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    states: dict[str, Loaded] = field(default_factory=dict)  # with chain heads

    def reject(self, letter: DeadLetter) -> None:
        """Dead-letter a message, and answer its producer if it can be named."""
        self.dead_letters.append(letter)
        if letter.command_id is not None:
            self.outcomes.append(_malformed(letter))


class Ledger:
    """Decides commands against account streams, with an LRU cache of account states."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        *,
        max_message_bytes: int,
        cache_size: int = 50_000,
        handler: Handler = handle,
        max_clock_skew_s: int | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.max_message_bytes = max_message_bytes
        self.max_clock_skew_s = max_clock_skew_s  # None: commands' stamps are not bounded
        self.cache_size = cache_size
        self.handler = handler
        self._cache: OrderedDict[str, Loaded] = OrderedDict()
        self._snapshotted: dict[str, int] = {}

    def decide_batch(self, records: Sequence[Incoming]) -> Batch:
        """Decide records in order (each partition's in its order: an account's commands
        are on one partition). Nothing is stored yet.

        A record that cannot be read, whose decision raises, or whose account's stored stream
        cannot be loaded is dead-lettered and answered with a refusal; the others are decided
        as if it had not come. Only a failure of the store itself escapes: the whole batch is
        then retried.
        """
        # A batch allocates many small objects and no cycles: with the collector running, it
        # scanned them (and every cached account) again and again, for nothing to free.
        with gc_paused():
            return self._decided(records)

    def _decided(self, records: Sequence[Incoming]) -> Batch:
        batch = Batch(positions={source_name(r.topic, r.partition): r.offset + 1 for r in records})
        read = [(record, read_command(record, self.max_message_bytes)) for record in records]
        commands = [command for _, command in read if not isinstance(command, DeadLetter)]
        # What the batch needs of the store, in one look-up: its commands' past, and the
        # accounts not cached (a repeat decided long ago needs both).
        recalled, fetched = self.store.look_up(
            [(command.account_id, key) for command in commands for key in keys_for(command)],
            list(dict.fromkeys(c.account_id for c in commands if c.account_id not in self._cache)),
        )
        past = BatchPast(recalled)
        for record, command in read:
            if isinstance(command, DeadLetter):
                batch.reject(command)
                continue
            loaded = batch.states.get(command.account_id) or self._loaded(
                command.account_id, fetched
            )
            if isinstance(loaded, str):  # the account's stream itself cannot be read
                batch.reject(dead_letter(record, "internal_error", loaded))
                continue
            before, head = loaded
            try:
                account_past = past.of(command.account_id)
                arrival = self._arrival(record)
                decision = self.handler(command, before, self.catalog, account_past, arrival)
                if unstored(decision, before):
                    decision = decision._replace(events=(), state=before)
                sealed = self._sealed(command.account_id, before.version, decision, head)
                outcome = outcome_of(command, decision)
            except Exception as error:  # a bug or a rule gap: this command only, not the partition
                log.exception("deciding %s of %s raised", command.command_id, command.account_id)
                error_text = f"{type(error).__name__}: {error}"
                batch.reject(dead_letter(record, "internal_error", error_text))
                continue
            batch.index += past.remember(command.account_id, sealed)
            batch.recorded += sealed
            head = sealed[-1].chain if sealed else head
            batch.states[command.account_id] = (decision.state, head)
            batch.outcomes.append(outcome)
            reason = INPUT_REFUSALS.get(outcome.code or "")
            if reason is not None and not decision.repeat:
                batch.dead_letters.append(dead_letter(record, reason, outcome.message or ""))
        return batch

    def _arrival(self, record: Incoming) -> Arrival | None:
        """When the record reached the broker, to bound how far ahead its command's stamp is."""
        stamp = record.timestamp_ms
        if self.max_clock_skew_s is None or stamp is None or stamp < 0:
            return None
        return Arrival(datetime.fromtimestamp(stamp / 1000, UTC), self.max_clock_skew_s)

    def _sealed(
        self, account_id: str, version: int, decision: Decision, head: str
    ) -> list[Recorded]:
        """The decision's events as stored, each linked onto the account's chain (keyed with
        the store's chain key)."""
        sealed: list[Recorded] = []
        for n, event in enumerate(decision.events, start=version + 1):
            sealed.append(
                self.store.seal(account_id, n, event, sealed[-1].chain if sealed else head)
            )
        return sealed

    def commit(self, batch: Batch) -> None:
        """Store the batch's events with the positions after it, atomically; then cache."""
        with gc_paused():
            self._commit(batch)

    def _commit(self, batch: Batch) -> None:
        positions = [Tracking(source, offset) for source, offset in batch.positions.items()]
        self.store.append(batch.recorded, *positions, index=batch.index)
        for account_id, loaded in batch.states.items():
            self._remember(account_id, loaded)
        due = [
            (account_id, state, head)
            for account_id, (state, head) in batch.states.items()
            if state.version - self._snapshotted.get(account_id, 0) >= self.store.snapshot_every
        ]
        try:
            self.store.save_snapshots(due)
        except Exception:  # a snapshot is derived data: losing one costs a longer load
            log.exception("could not store snapshots")
            return
        self._snapshotted.update((account_id, state.version) for account_id, state, _ in due)

    def forget(self, accounts: Iterable[str] | None = None) -> None:
        """Drop cached states, of ``accounts`` or all: the store is the truth. After a failed
        commit only the batch's accounts are dropped (the commit may have happened after all);
        other partitions' accounts stay cached."""
        if accounts is None:
            self._cache.clear()
            return
        for account_id in accounts:
            self._cache.pop(account_id, None)

    def _loaded(self, account_id: str, fetched: Fetched) -> Loaded | str:
        """The account (cached, ``fetched`` for this batch, or read now), or why its stored
        stream cannot be loaded. A failure that is not the database's (an event that cannot
        be decoded), while the store answers other queries, is the stream's own: its commands
        are dead-lettered rather than stall the partition. A failure of the store itself is
        raised, and the batch retried."""
        try:
            return self._account(account_id, fetched)
        except (PersistenceError, OSError):
            raise  # the database itself: an outage, never the stream's fault
        except Exception as error:
            self.store.position("kalema:probe")  # and it must answer right now
            log.exception("the stream of %s cannot be loaded", account_id)
            return f"the stream of {account_id} cannot be loaded: {type(error).__name__}: {error}"

    def _account(self, account_id: str, fetched: Fetched | None = None) -> Loaded:
        loaded = self._cache.get(account_id)
        if loaded is not None:
            self._cache.move_to_end(account_id)
            return loaded
        found = (fetched or {}).pop(account_id, None)
        if isinstance(found, Exception):
            raise found
        loaded = found or self.store.load_with_head(account_id)  # evicted since the look-up
        self._remember(account_id, loaded)
        return loaded

    def _remember(self, account_id: str, loaded: Loaded) -> None:
        self._cache[account_id] = loaded
        self._cache.move_to_end(account_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


UNSTORED_REFUSALS = frozenset({"payment_already_used"})
"""Refusals answered but never stored, whatever the account: a payment reference another
account used costs nothing to send again and again."""


def unstored(decision: Decision, before: Account) -> bool:
    """A refusal for an account that was never opened is answered but not stored: otherwise
    anyone who may send a command could grow the store without end, one made-up account at a
    time. Nothing was decided, so its repeat is decided again (and answered the same, unless the
    account has been opened since). So is a refusal in ``UNSTORED_REFUSALS``."""
    refusal = decision.refusal
    if refusal is None or decision.repeat:
        return False
    return not before.opened or refusal.code in UNSTORED_REFUSALS


class BatchPast:
    """What a batch's commands may need of their accounts' past: the store's answers, looked up
    for the whole batch at once, and what the batch itself has decided so far (newer)."""

    def __init__(self, stored: dict[tuple[str, str], LedgerEvent]) -> None:
        self.stored = stored
        self.decided: dict[tuple[str, str], LedgerEvent] = {}

    def of(self, account_id: str) -> Past:
        return _AccountPast(self, account_id)

    def remember(self, account_id: str, recorded: Sequence[Recorded]) -> list[IndexRow]:
        """Remember the account's new events by their keys; the index's rows for them (each
        event's keys worked out once, for the batch and for the store)."""
        rows: list[IndexRow] = []
        for r in recorded:
            event = r.event
            for key in keys_of(event):
                self.decided[(SHARED if store_wide(key) else account_id, key)] = event
                rows.append((account_id, key, r.originator_version))
        return rows


class _AccountPast:
    """One account's view of the batch's past (a plain class: one is made per command)."""

    __slots__ = ("account_id", "batch")

    def __init__(self, batch: BatchPast, account_id: str) -> None:
        self.batch, self.account_id = batch, account_id

    def recall(self, key: str) -> LedgerEvent | None:
        wanted = (self.account_id, key)
        if store_wide(key):  # the store answers it as asked; the batch, for every account
            return self.batch.decided.get((SHARED, key)) or self.batch.stored.get(wanted)
        return self.batch.decided.get(wanted) or self.batch.stored.get(wanted)


def source_name(topic: str, partition: int) -> str:
    """The tracking name of a topic partition: positions are stored per partition."""
    return f"{topic}:{partition}"


def outcome_of(command: Command, decision: Decision) -> Outcome:
    # Built as trusted: this runs for every command and every value is the core's, typed.
    state, outcome = decision.state, decision.outcome
    subscription, purchased, granted, held = credits_by_kind(state)
    summary = {
        "subscription": subscription,
        "purchased": purchased,
        "granted": granted,
        "held": held,
        "total": subscription + purchased + granted,
    }
    refused = type(outcome) is CommandRefused
    answer = {
        "command_id": command.command_id,
        "account_id": command.account_id,
        "command_type": answered(outcome),  # a repeat: the command first decided
        "status": "refused" if refused else "accepted",
        "code": outcome.code if refused else None,  # type: ignore[union-attr]
        "message": outcome.message if refused else None,  # type: ignore[union-attr]
        "details": outcome.details if refused else {},  # type: ignore[union-attr]
        "charged": outcome.draws if type(outcome) in _CHARGING else (),  # type: ignore[union-attr]
        "events": _names(decision.events),
        "balance": trusted(BalanceFigures, summary),
        "stream_version": state.version,
        "repeat": decision.repeat,
    }
    return trusted(Outcome, answer)


def _names(events: Sequence[LedgerEvent]) -> tuple[str, ...]:
    """The events' type names (most decisions record one event)."""
    if len(events) == 1:
        return (type(events[0]).__name__,)
    return tuple([type(e).__name__ for e in events])


_CHARGING = frozenset((ToolUsed, HoldSettled, CreditsReserved))  # outcomes that name draws


def _malformed(letter: DeadLetter) -> Outcome:
    return Outcome(
        command_id=letter.command_id or "",
        account_id=letter.account_id or letter.key or "",
        command_type="unknown",
        status="refused",
        code=letter.reason,
        message=letter.error,
    )
