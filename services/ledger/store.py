"""The event store: one stream per account, in the ``eventsourcing`` library's recorders.

SQLite (embedded default) or PostgreSQL (production), chosen by settings. Events of a whole
batch, their keys in the history index (``recorders.py``) and the consumer's position are
written in one transaction (``Tracking``), so a crash can neither lose a decided command nor
apply one twice, and the index never disagrees with the streams. Each account keeps one
snapshot, its latest: a snapshot is the size of what is open, so loads stay short.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, cast

from eventsourcing.application import Application
from eventsourcing.persistence import (
    EventStore,
    Mapper,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    Transcoder,
)
from eventsourcing.postgres import PostgresFactory

from events.encoding import json_of
from events.ledger import LedgerEvent
from services.ledger import snapshots, upcasting
from services.ledger.chain import GENESIS, SigningKey, link
from services.ledger.core import Account, evolve, keys_of
from services.ledger.recorders import (
    BUILT,
    IndexRow,
    LedgerRecorder,
    LogRow,
    PostgresLedgerRecorder,
    PostgresSnapshotRecorder,
    Wanted,
)
from services.ledger.upcasting import Recorded, recorded, unseal
from services.settings import Settings

SNAPSHOT_TOPIC = "AccountSnapshot"


def seal(
    account_id: str, version: int, event: LedgerEvent, previous: str, key: SigningKey | None = None
) -> Recorded:
    """The event as it will be stored, hashed onto the chain after ``previous`` (an HMAC naming
    its key when the chain is keyed, see ``chain``)."""
    payload = json_of(event)
    return Recorded(
        account_id, version, event, payload, link(previous, account_id, version, payload, key)
    )


Loaded = tuple[Account, str]  # an account's state and the chain hash of its last event
Fetched = dict[str, Loaded | Exception]  # accounts read for a batch (or what kept each unread)


class _Loads(Protocol):
    def recall(self, wanted: Iterable[Wanted]) -> dict[Wanted, LedgerEvent]: ...
    def load_with_head(self, account_id: str) -> Loaded: ...


def look_up_one_by_one(
    store: _Loads, wanted: Iterable[Wanted], accounts: Sequence[str]
) -> tuple[dict[Wanted, LedgerEvent], Fetched]:
    """``LedgerStore.look_up`` as one query per account: in-process SQLite has no round
    trips to save."""
    loaded: Fetched = {}
    for account_id in accounts:
        try:
            loaded[account_id] = store.load_with_head(account_id)
        except (PersistenceError, OSError):
            raise
        except Exception as error:
            loaded[account_id] = error
    return store.recall(wanted), loaded


def stored_state(recorded: Recorded) -> bytes:
    """What the events table stores of an event: ``sha256:<chain>\n<event JSON>``."""
    return b"sha256:%s\n%s" % (recorded.chain.encode(), recorded.payload)


_TOPICS = {kind: upcasting.topic_of(kind.__name__) for kind in LedgerEvent.__subclasses__()}


class LedgerMapper(Mapper[str]):
    """Stores ledger events as ``sha256:<chain>\n<event JSON>`` under ``Type`` or ``Type@N``
    (schema version N > 1); older versions are upcast when read, their bytes left untouched."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        recorded: Recorded = domain_event
        return StoredEvent(
            originator_id=recorded.originator_id,
            originator_version=recorded.originator_version,
            topic=_TOPICS[type(recorded.event)],
            state=stored_state(recorded),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return recorded(
            str(stored_event.originator_id),
            stored_event.originator_version,
            stored_event.topic,
            stored_event.state,
        )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading, decoding or folding many events.

    These allocate many small acyclic objects that the collector would scan again and again
    (decoding and folding run markedly faster without it, see BENCHMARKS.md). Reference
    counting still frees everything, and the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _NoTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:  # pragma: no cover - events encode themselves
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:  # pragma: no cover
        raise NotImplementedError


class LedgerStore(Application[str]):
    """Account streams, snapshots and consumer positions."""

    name = "ledger"
    # Events since the last snapshot before another is taken. Loading folds at most this many
    # events after the snapshot, each a fold's cost: a long gap makes a cold account's load,
    # and so a repeat's answer, slow. A snapshot is one small row, and each account keeps only
    # its latest.
    snapshot_every = 25

    def __init__(self, settings: Settings, *, build_index: bool = True) -> None:
        self.settings = settings
        self.chain_key = settings.chain_signing_key()
        self.chain_keys = settings.chain_keys()
        super().__init__(env=_persistence_env(settings))
        if build_index and not self.ledger_recorder.index_built():
            self.rebuild_index()

    def construct_env(self, name: str, env: Any = None) -> Any:
        # Only the settings read the environment: do not let the library merge os.environ.
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[str]:
        return LedgerMapper(transcoder=_NoTranscoder())

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def construct_snapshot_store(self) -> EventStore[Any]:
        """The library's snapshot store; on PostgreSQL its table is created in turn with
        other processes' (``TakingTurnsToCreate``)."""
        factory = self.factory
        if not isinstance(factory, PostgresFactory):
            return super().construct_snapshot_store()
        prefix = factory.env.name.lower() or "stored"  # the table as the library names it
        recorder = PostgresSnapshotRecorder(
            datastore=factory.datastore, events_table_name=f"{prefix}_snapshots"
        )
        if factory.env_create_table():
            recorder.create_table()
        return factory.event_store(mapper=self.mapper, recorder=recorder)

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        return cast(LedgerRecorder, self.recorder)

    def load(self, account_id: str) -> Account:
        """The account folded from its latest snapshot and the events after it."""
        return self.load_with_head(account_id)[0]

    def load_with_head(self, account_id: str) -> Loaded:
        """The account and the chain hash of its last event (where the next one links on)."""
        latest = None
        if self.snapshots is not None:
            found = self.snapshots.recorder.select_events(account_id, desc=True, limit=1)
            latest = found[0].state if found else None
        return self._folded(account_id, latest, None)

    def look_up(
        self, wanted: Iterable[Wanted], accounts: Sequence[str]
    ) -> tuple[dict[Wanted, LedgerEvent], Fetched]:
        """``recall(wanted)`` and ``load_with_head`` of each of ``accounts``, for a batch: in
        one round trip on PostgreSQL. An account whose stored stream cannot be decoded gets
        the error instead (the database answered: the stream itself is at fault); a failure
        of the database raises."""
        recorder = self.ledger_recorder
        if not isinstance(recorder, PostgresLedgerRecorder) or self.snapshots is None:
            return look_up_one_by_one(self, wanted, accounts)
        snapshots_table = cast(Any, self.snapshots.recorder).events_table_name
        found, rows = recorder.look_up(sorted(set(wanted)), accounts, snapshots_table)
        latest: dict[str, bytes] = {}
        tails: dict[str, list[tuple[int, str, bytes]]] = {a: [] for a in accounts}
        for account_id, version, topic, state in rows:
            if topic is None:
                latest[account_id] = state
            else:
                tails[account_id].append((version, topic, state))
        loaded: Fetched = {}
        for account_id, tail in tails.items():
            try:
                tail.sort()
                loaded[account_id] = self._folded(account_id, latest.get(account_id), tail)
            except (PersistenceError, OSError):
                raise
            except Exception as error:
                loaded[account_id] = error
        return self._recalled(found), loaded

    def _folded(
        self, account_id: str, latest: bytes | None, tail: list[tuple[int, str, bytes]] | None
    ) -> Loaded:
        """Fold the account from its latest snapshot (if any) and ``tail``, the events after
        it (read here when None, or when the snapshot cannot be read)."""
        state, head = Account(), GENESIS
        # Decoding the snapshot and folding the tail allocate only acyclic state: with the
        # collector running, a full collection landing inside a load would multiply its tail
        # latency for an account with many open lots (see BENCHMARKS.md).
        with gc_paused():
            if latest is not None:
                try:
                    state, head = snapshots.load(latest)
                except ValueError:  # unreadable: it costs a replay
                    tail = None
            if tail is None:
                tail = self.ledger_recorder.stream_rows(account_id, state.version)
            for version, topic, stored in tail:
                event = recorded(account_id, version, topic, stored)
                state, head = evolve(state, event.event), event.chain
        return state, head

    def seal(self, account_id: str, version: int, event: LedgerEvent, previous: str) -> Recorded:
        """``seal`` with this store's chain key."""
        return seal(account_id, version, event, previous, self.chain_key)

    def log_rows(self, after: int, limit: int) -> list[LogRow]:
        """Up to ``limit`` stored events after notification ``after``, undecoded (``recorded``
        decodes one)."""
        return self.ledger_recorder.log_rows(after, limit)

    def stream(self, account_id: str, after: int = 0) -> list[Recorded]:
        """The account's events after version ``after``, in order."""
        with gc_paused():
            return [
                recorded(account_id, version, topic, state)
                for version, topic, state in self.ledger_recorder.stream_rows(account_id, after)
            ]

    def append(
        self,
        recorded: Sequence[Recorded],
        *positions: Tracking,
        index: Sequence[IndexRow] | None = None,
    ) -> None:
        """Write a batch of events (any accounts), their index keys and the consumer's
        positions (one per partition the batch read), atomically. ``index``: the events'
        keys as index rows, when the caller has worked them out already (``keys_of`` each)."""
        # Rows as the recorder writes them, straight from the batch: the library's
        # ``StoredEvent`` per event and its mapper were a sixth of the commit.
        rows = [(r.originator_id, r.originator_version, _TOPICS[type(r.event)], stored_state(r))
                for r in recorded]  # fmt: skip
        if index is None:
            index = [
                (r.originator_id, key, r.originator_version)
                for r in recorded
                for key in keys_of(r.event)
            ]
        self.ledger_recorder.append(rows, positions, index)

    def recall(self, wanted: Iterable[Wanted]) -> dict[Wanted, LedgerEvent]:
        """The event behind each (account, key) that has one: what the rules need of the past
        (``core.past``), for a whole batch in one query."""
        return self._recalled(self.ledger_recorder.recall(sorted(set(wanted))))

    @staticmethod
    def _recalled(found: list[tuple[str, str, int, str, bytes]]) -> dict[Wanted, LedgerEvent]:
        with gc_paused():
            return {
                (account_id, key): upcasting.event_from(topic, unseal(state)[1])
                for account_id, key, _, topic, state in found
            }

    def rebuild_index(self, progress: Callable[[int], None] | None = None, page: int = 5000) -> int:
        """Point every key of every stored event at it, from the log; safe beside a running
        ledger (keys only move forward). Returns the events read. Streams stored before the
        index existed need this once; the store does it when it first opens them."""
        read, start = 0, 1
        while True:
            notes = self.process_recorder.select_notifications(start, page)
            if not notes:
                break
            rows: list[IndexRow] = []
            for note in notes:
                recorded = cast(Recorded, self.mapper.to_domain_event(note))
                rows += [(recorded.originator_id, k, note.originator_version)
                         for k in keys_of(recorded.event)]  # fmt: skip
            self.ledger_recorder.add_to_index(rows)
            read, start = read + len(notes), notes[-1].id + 1
            if progress is not None:
                progress(len(notes))
        self.ledger_recorder.add_to_index([(*BUILT, read)])
        return read

    def position(self, source: str) -> int | None:
        """The next offset to read from ``source`` (a topic partition), if any was stored."""
        return self.process_recorder.max_tracking_id(source)

    def save_snapshots(self, states: Iterable[tuple[str, Account, str]]) -> None:
        """Store snapshots of these accounts (with their chain heads); loads start from them."""
        if self.snapshots is None:
            return
        rows = [
            (account_id, state.version, SNAPSHOT_TOPIC, snapshots.dump(state, head))
            for account_id, state, head in states
        ]
        if not rows:
            return
        # The snapshots' table is in the ledger's own database: one transaction stores them
        # and drops each account's older ones (an older one is never read again).
        table = cast(Any, self.snapshots.recorder).events_table_name
        self.ledger_recorder.replace_snapshots(table, rows)


def _persistence_env(settings: Settings) -> dict[str, str]:
    common = {"ORIGINATOR_ID_TYPE": "text", "IS_SNAPSHOTTING_ENABLED": "y", "CREATE_TABLE": "y"}
    if settings.event_store == "sqlite":
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return common | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "PROCESS_RECORDER_TOPIC": "services.ledger.recorders:SQLiteLedgerRecorder",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    recorder = {"PROCESS_RECORDER_TOPIC": "services.ledger.recorders:PostgresLedgerRecorder"}
    return common | postgres_env(settings) | recorder


def postgres_env(settings: Settings) -> dict[str, str]:
    """The ``eventsourcing`` library's PostgreSQL settings for these settings' database."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_DBNAME": settings.postgres_db,
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password.get_secret_value(),
        "POSTGRES_SCHEMA": settings.postgres_schema,
    }
