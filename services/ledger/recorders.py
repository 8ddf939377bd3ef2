"""The ledger's recorders: eventsourcing's process recorders with the history index beside them.

Every stored event's keys (``core.past.keys_of``: the command it decided, the hold, the use it
refunded, the payment) are written to ``ledger_index`` in the SAME transaction as the events and
the consumer's positions, so the index can never disagree with the streams. (A batch may cover
several partitions: ``append`` writes the position of each beside its events, on PostgreSQL all
in one statement.) A key points at the latest event that answers it (``version``
only ever moves forward, so a rebuild running beside a live ledger cannot move a key back).
A decision's key (``core.past.answered_once``) is answered by one event ever: a batch inserts
it plainly, without the upsert's look for a row already there (on PostgreSQL about as costly
as the insertion itself), and a command somehow decided twice fails the whole transaction.
``recall`` reads the events behind many keys of many accounts in one query: the ledger asks once
per batch.

A store-wide key (``core.past.store_wide``: the package a payment bought, on whichever account)
goes to ``ledger_shared_index`` instead, one row per key whatever the account, written by a
plain INSERT: a second account's event answering it fails the whole transaction (two ledgers
deciding the same payment for two accounts at once: the later batch is retried, and refused).
Looked up as ``(account, key)``, it answers with the event on the account that holds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from eventsourcing.sqlite import SQLiteDatastore, SQLiteProcessRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from services.ledger.core.past import SHARED, answered_once, store_wide

INDEX = "ledger_index"
SHARED_INDEX = "ledger_shared_index"
BUILT = ("", "index:built:2")  # says the indexes hold every stored event's keys (2: store-wide)
IndexRow = tuple[str, str, int]  # account_id, key, version of the event that answers it
Wanted = tuple[str, str]  # account_id, key
LogRow = tuple[int, str, int, str, bytes]  # notification id, account_id, version, topic, state
EventRow = tuple[str, int, str, bytes]  # originator_id, version, topic, stored state
StreamRow = tuple[str, int, str | None, bytes]  # account_id, version, topic (None: snapshot), state


class SQLiteLedgerRecorder(SQLiteProcessRecorder):
    def __init__(self, datastore: SQLiteDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)

    @property
    def stream_statement(self) -> str:
        return (
            f"SELECT originator_version, topic, state FROM {self.events_table_name} "
            "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {INDEX} (account_id TEXT, key TEXT, "
            "version INTEGER NOT NULL, PRIMARY KEY (account_id, key)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {SHARED_INDEX} (key TEXT PRIMARY KEY, "
            "account_id TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID",
        ]

    def append(
        self, rows: Sequence[EventRow], positions: Sequence[Tracking], index: Sequence[IndexRow]
    ) -> None:
        """Store a batch's event rows, the consumer's positions and the history index's rows in
        one transaction. One statement for the events: the library's application recorder
        inserts row by row to return each event's notification id, which the ledger never
        reads."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(self.insert_events_statement, rows)
            for position in positions:
                self._insert_tracking(c, position)
            write_index(self, c, index, strict=True)

    def replace_snapshots(self, table: str, rows: Sequence[EventRow]) -> None:
        """Store these snapshots and drop each account's older ones, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            c.executemany(
                f"DELETE FROM {table} WHERE originator_id = ? AND originator_version < ?",
                [(row[0], row[1]) for row in rows],
            )

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events]
        c.executemany(self.insert_events_statement, rows)
        for position in (kwargs.get("tracking"), *(kwargs.get("more_positions") or ())):
            if position is not None:
                self._insert_tracking(c, position)
        write_index(self, c, kwargs.get("index") or (), strict=True)
        return None

    insert = f"INSERT INTO {INDEX} (account_id, key, version) VALUES (?, ?, ?)"
    upsert = (
        f"{insert} "
        "ON CONFLICT (account_id, key) DO UPDATE SET version = max(version, excluded.version)"
    )
    shared_insert = f"INSERT INTO {SHARED_INDEX} (account_id, key, version) VALUES (?, ?, ?)"

    def write_index(self, cursor: Any, rows: Sequence[IndexRow], strict: bool) -> None:
        own, shared = _split(rows)
        once, moving = _answered_once(own) if strict else ([], own)
        cursor.executemany(self.insert, once)  # in-process: one statement per key is cheap
        cursor.executemany(self.upsert, moving)
        tolerant = "" if strict else " ON CONFLICT (key) DO NOTHING"
        cursor.executemany(self.shared_insert + tolerant, shared)

    def recall(self, wanted: Sequence[Wanted]) -> list[tuple[str, str, int, str, bytes]]:
        """(account_id, key, version, topic, state) of the event behind each key that has one
        (a store-wide key's: as asked, whichever account holds it). One statement whatever
        the batch: the keys go in as one JSON array that ``json_each`` unrolls, so its text
        never changes and SQLite does not compile a ``VALUES`` list of the batch's size."""
        if not wanted:
            return []
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.recall_statement, (_json_text(wanted),))
            return [(row[0], row[1], row[2], row[3], row[4]) for row in c.fetchall()]

    @property
    def recall_statement(self) -> str:
        # A store-wide key is looked up by its key alone and answered as asked (``w``'s account).
        return (
            "WITH w(account_id, key) AS "
            "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)) "
            "SELECT i.account_id, i.key, i.version, e.topic, e.state FROM w "
            f"JOIN {INDEX} i ON i.account_id = w.account_id AND i.key = w.key "
            f"JOIN {self.events_table_name} e "
            "ON e.originator_id = i.account_id AND e.originator_version = i.version "
            "UNION ALL "
            "SELECT w.account_id, s.key, s.version, e.topic, e.state FROM w "
            f"JOIN {SHARED_INDEX} s ON s.key = w.key "
            f"JOIN {self.events_table_name} e "
            "ON e.originator_id = s.account_id AND e.originator_version = s.version "
            f"WHERE substr(w.key, 1, 1) = '{SHARED}'"
        )

    def stream_rows(self, account_id: str, after: int) -> list[tuple[int, str, bytes]]:
        """(version, topic, state) of an account's events after ``after``, in order."""
        with self.datastore.transaction(commit=False) as c:
            rows = c.sqlite_cursor
            rows.row_factory = None  # plain tuples: the connection's ``sqlite3.Row`` per row
            rows.execute(self.stream_statement, (account_id, after))
            return rows.fetchall()

    def log_rows(self, after: int, limit: int) -> list[LogRow]:
        """Up to ``limit`` stored events after notification ``after``, in log order."""
        with self.datastore.transaction(commit=False) as c:
            rows = c.sqlite_cursor
            rows.row_factory = None  # plain tuples, as ``stream_rows``
            rows.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            return rows.fetchall()

    def index_built(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT 1 FROM {INDEX} WHERE account_id = ? AND key = ?", BUILT)
            return c.fetchone() is not None

    def add_to_index(self, rows: Sequence[IndexRow]) -> None:
        with self.datastore.transaction(commit=True) as c:
            write_index(self, c, rows)

    def index_rows(self) -> list[IndexRow]:
        """Every key of the indexes and the version it points at (for verification)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT account_id, key, version FROM {INDEX} UNION ALL "
                f"SELECT account_id, key, version FROM {SHARED_INDEX}"
            )
            return [(row[0], row[1], row[2]) for row in c.fetchall() if row[0] != BUILT[0]]


class TakingTurnsToCreate:
    """A PostgreSQL recorder whose ``create_table`` waits for any other process's to finish.

    Every start of a recorder runs the library's ``CREATE OR REPLACE FUNCTION`` for the events
    table, and two processes starting together (a ledger and the live-streams benchmark's lag
    check, two API workers) updated the same catalogue row at once: one failed with "tuple
    concurrently updated". Two first starts fail alike: both find no tracking table and both
    record its migration, or create the same type. The library's ``create_table`` looks first
    and then writes, over several transactions: a session-level advisory lock, on a
    connection of its own (the pool may have no other to spare), covers all of it."""

    datastore: PostgresDatastore

    def create_table(self) -> None:
        conninfo, kwargs = self.datastore.pool.conninfo, self.datastore.pool.kwargs
        assert isinstance(conninfo, str) and isinstance(kwargs, dict)  # as the library sets them
        with psycopg.connect(conninfo, **kwargs, autocommit=True) as turn:
            turn.execute(CREATION_TURN)  # released when the connection closes
            super().create_table()  # type: ignore[misc]


_TURN = "hashtext('kalema: create tables')"  # one lock: the two forms below must conflict
CREATION_TURN = SQL(f"SELECT pg_advisory_lock({_TURN})")
# The same turn, held until the transaction ends: for a table created in one statement.
CREATION_TURN_IN_TRANSACTION = SQL(f"SELECT pg_advisory_xact_lock({_TURN})")


class PostgresSnapshotRecorder(TakingTurnsToCreate, PostgresAggregateRecorder):
    """The accounts' snapshots, as the library stores them, created in turn."""


class PostgresLedgerRecorder(TakingTurnsToCreate, PostgresProcessRecorder):
    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ):
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.index = Identifier(datastore.schema, INDEX)
        self.events = Identifier(datastore.schema, events_table_name)
        self.look_up_statements: dict[str, Composed] = {}
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {index} (account_id TEXT, key TEXT, "
                "version BIGINT NOT NULL, PRIMARY KEY (account_id, key))"
            ).format(index=self.index)
        )
        self.shared_index = Identifier(datastore.schema, SHARED_INDEX)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {shared} (key TEXT PRIMARY KEY, "
                "account_id TEXT NOT NULL, version BIGINT NOT NULL)"
            ).format(shared=self.shared_index)
        )
        self.shared_insert = SQL(
            "INSERT INTO {shared} (account_id, key, version) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[])"
        ).format(shared=self.shared_index)
        # One statement per batch (arrays unnested), not one per key: PostgreSQL's CPU is
        # shared with the broker and the ledger on one machine.
        self.insert = SQL(
            "INSERT INTO {index} AS i (account_id, key, version) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[])"
        ).format(index=self.index)
        self.upsert = self.insert + SQL(
            " ON CONFLICT (account_id, key) DO UPDATE SET "
            "version = GREATEST(i.version, excluded.version)"
        )
        self.recall_statement = self._recalled(SQL("w.account_id, f.key"))
        if not datastore.single_row_tracking:
            raise ValueError("the ledger keeps one tracking row a partition (single_row_tracking)")
        # The library's single-row tracking, for many partitions at once (``append``).
        self.move_positions = SQL(
            "INSERT INTO {tracking} AS t (application_name, notification_id) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[]) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = excluded.notification_id "
            "WHERE t.notification_id < excluded.notification_id "
            "RETURNING t.application_name"
        ).format(tracking=Identifier(datastore.schema, tracking_table_name))
        self.insert_rows = _inserting(self.events)
        self.take_turn = SQL("SELECT pg_advisory_xact_lock(hashtext(%s))")
        self.turn = f"{datastore.schema}.{events_table_name}"
        self.log_statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {events} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(events=self.events)
        self.stream_statement = SQL(
            "SELECT originator_version, topic, state FROM {events} "
            "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version"
        ).format(events=self.events)

    def _lock_table(self, curs: Any) -> None:
        """Writers of the events table take turns, each until it commits, so that notification
        ids commit in order and a follower of the log never passes over one committed later.

        The library takes turns with ``LOCK TABLE ... IN EXCLUSIVE MODE``, which also waits
        for autovacuum's lock on the table; PostgreSQL cancels the vacuum only when
        ``deadlock_timeout`` has passed, so every autovacuum of the events table stalled
        the ledger, and the balances behind it, for that long. A transaction-level advisory
        lock takes turns without touching the table's lock. An older ledger still locking the
        table takes turns with this one too: EXCLUSIVE conflicts with the insert's ROW EXCLUSIVE."""
        curs.execute(self.lock_table_statements[0], prepare=True)  # SET LOCAL lock_timeout
        curs.execute(self.take_turn, (self.turn,), prepare=True)

    def look_up(
        self, wanted: Sequence[Wanted], accounts: Sequence[str], snapshots_table: str
    ) -> tuple[list[tuple[str, str, int, str, bytes]], list[StreamRow]]:
        """``recall(wanted)``, and each of ``accounts``' latest snapshot and the events after
        it, in ONE round trip: a cold account's command (a repeat of one decided long ago,
        most of all) would otherwise wait for three. Stream rows come in no order; a
        snapshot's has no topic."""
        statement = self.look_up_statements.get(snapshots_table)
        if statement is None:
            statement = self.look_up_statements[snapshots_table] = self._look_up(snapshots_table)
        recalled: list[tuple[str, str, int, str, bytes]] = []
        streams: list[StreamRow] = []
        with reading(self.datastore) as curs:
            curs.row_factory = tuple_row
            params = (list(accounts), *key_arrays(wanted))
            curs.execute(statement, params, prepare=True, binary=True)  # ``%b``: see write_index
            rows: list[Any] = curs.fetchall()
            for key, account_id, version, topic, state in rows:
                if key is None:
                    streams.append((account_id, version, topic, bytes(state)))
                else:
                    recalled.append((account_id, key, version, topic, bytes(state)))
        return recalled, streams

    def _look_up(self, snapshots_table: str) -> Composed:
        return SQL(
            "WITH a AS (SELECT DISTINCT unnest(%b::text[]) AS id), "
            "s AS (SELECT a.id, l.originator_version AS v, l.state FROM a CROSS JOIN LATERAL "
            "(SELECT originator_version, state FROM {snapshots} WHERE originator_id = a.id "
            "ORDER BY originator_version DESC LIMIT 1) l) "
            "SELECT NULL::text, s.id, s.v, NULL::text, s.state FROM s "
            "UNION ALL "
            "SELECT NULL::text, e.originator_id, e.originator_version, e.topic, e.state "
            "FROM a LEFT JOIN s ON s.id = a.id JOIN {events} e "
            "ON e.originator_id = a.id AND e.originator_version > COALESCE(s.v, 0) "
            "UNION ALL {keys}"
        ).format(
            events=self.events,
            snapshots=Identifier(self.datastore.schema, snapshots_table),
            keys=self._recalled(SQL("f.key, w.account_id")),
        )

    def _recalled(self, columns: SQL) -> Composed:
        """The event behind each key that has one: ``columns`` (the key and its account, in
        the caller's order) then ``version, topic, state``. An account's own keys come as two
        arrays (accounts, keys), then the store-wide keys as two more, each probed only in
        its own index (``key_arrays``), one probe a key: a LATERAL look-up of at most one row is
        planned as an index probe whatever the tables' statistics say, where a join was
        planned as a hash of the whole index (and of the events) while they were small, and
        every key also probed the other index, where it never is."""
        return SQL(
            "SELECT {columns}, f.version, f.topic, f.state "
            "FROM unnest(%b::text[], %b::text[]) AS w(account_id, key) CROSS JOIN LATERAL "
            "(SELECT i.key, i.version, e.topic, e.state FROM {index} i JOIN {events} e "
            "ON e.originator_id = i.account_id AND e.originator_version = i.version "
            "WHERE i.account_id = w.account_id AND i.key = w.key LIMIT 1) f "
            "UNION ALL "
            "SELECT {columns}, f.version, f.topic, f.state "
            "FROM unnest(%b::text[], %b::text[]) AS w(account_id, key) CROSS JOIN LATERAL "
            "(SELECT s.key, s.version, e.topic, e.state FROM {shared} s JOIN {events} e "
            "ON e.originator_id = s.account_id AND e.originator_version = s.version "
            "WHERE s.key = w.key LIMIT 1) f"
        ).format(columns=columns, index=self.index, shared=self.shared_index, events=self.events)

    def log_rows(self, after: int, limit: int) -> list[LogRow]:
        """Up to ``limit`` stored events after notification ``after``, in log order, as plain
        tuples (as ``stream_rows``: the library's notifications are a dict and an object a
        row)."""
        with reading(self.datastore) as curs:
            curs.row_factory = tuple_row
            curs.execute(self.log_statement, (after, limit), prepare=True)
            rows: list[Any] = curs.fetchall()
        return [(row[0], row[1], row[2], row[3], bytes(row[4])) for row in rows]

    def stream_rows(self, account_id: str, after: int) -> list[tuple[int, str, bytes]]:
        """(version, topic, state) of an account's events after ``after``, in order: plain
        tuples, where the library builds a dict and a ``StoredEvent`` per row (a replay's cost
        that nothing here needs)."""
        with reading(self.datastore) as curs:
            curs.row_factory = tuple_row
            curs.execute(self.stream_statement, (account_id, after), prepare=True)
            rows: list[Any] = curs.fetchall()
            return [(row[0], row[1], bytes(row[2])) for row in rows]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def append(
        self, rows: Sequence[EventRow], positions: Sequence[Tracking], index: Sequence[IndexRow]
    ) -> None:
        """Store a batch's event rows, the consumer's positions and the history index's rows in
        one transaction, pipelined. The events go as four arrays in binary: the library's
        insert sends them as one array of a composite type, which psycopg writes out as text in
        Python, escaping every byte of every event (a third of the ledger's CPU on
        PostgreSQL). Writers of the events take turns (``_lock_table``) as the library's do,
        and its channel is notified."""
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as curs,
            conn.cursor(row_factory=tuple_row) as moved,
        ):
            self._lock_table(curs)
            self._notify_channel(curs)
            self._move_positions(moved, positions)
            if rows:
                curs.execute(self.insert_rows, _columns(rows), prepare=True, binary=True)
            write_index(self, curs, index, strict=True)
            self._check_positions_moved(moved, positions)

    def _move_positions(self, curs: Any, positions: Sequence[Tracking]) -> None:
        """Every partition's position in one statement, each only forward (``RETURNING`` the
        rows moved). Its result is read once the batch's other statements are sent: the
        library's insert reads each position's result as it goes, and in a pipeline every
        read waits for a round trip, one per partition the batch came from (eight in a full
        batch), each a sync and a wake-up of the ledger and the database."""
        if positions:
            curs.execute(
                self.move_positions,
                ([p.application_name for p in positions], [p.notification_id for p in positions]),
                prepare=True,
                binary=True,
            )

    @staticmethod
    def _check_positions_moved(curs: Any, positions: Sequence[Tracking]) -> None:
        """A position not moved forward is one another writer already stored (a batch
        decided twice): nothing of this transaction may be committed."""
        if not positions:
            return
        moved = {name for (name,) in curs.fetchall()}
        stale = [
            f"{p.application_name} {p.notification_id}"
            for p in positions
            if p.application_name not in moved
        ]
        if stale:
            raise IntegrityError(f"Failed to record tracking, already stored: {', '.join(stale)}")

    def replace_snapshots(self, table: str, rows: Sequence[EventRow]) -> None:
        """Store these snapshots and drop each account's older ones, in one pipelined
        transaction (one round trip) that does not wait for its WAL to reach the disk: a
        snapshot is derived data, and one lost in a crash only makes a load fold more events.
        The rows go as binary arrays, as ``append``'s do."""
        target = Identifier(self.datastore.schema, table)
        ids, versions = [row[0] for row in rows], [row[1] for row in rows]
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor() as curs,
        ):
            curs.execute("SET LOCAL synchronous_commit = off")
            curs.execute(_inserting(target, " ON CONFLICT DO NOTHING"), _columns(rows))
            curs.execute(
                SQL(
                    "DELETE FROM {table} AS s USING unnest(%b::text[], %b::bigint[]) AS l(id, v) "
                    "WHERE s.originator_id = l.id AND s.originator_version < l.v"
                ).format(table=target),
                [ids, versions],
            )

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kw: Any) -> None:
        super()._insert_events(curs, stored_events, **kw)
        for position in kw.get("more_positions") or ():
            self._insert_tracking(curs, position)
        write_index(self, curs, kw.get("index") or (), strict=True)

    def write_index(self, cursor: Any, rows: Sequence[IndexRow], strict: bool) -> None:
        own, shared = _split(rows)
        once, moving = _answered_once(own) if strict else ([], _latest(own))
        # Arrays are sent in binary by their ``%b`` placeholders: under ``%s`` psycopg writes a
        # list as a text array in Python, quoting and escaping each element (an event's bytes
        # cost 20 µs a row so). ``binary=True`` asks only for the results in binary.
        for statement, keyed in ((self.insert, once), (self.upsert, moving)):
            if keyed:
                cursor.execute(statement, _columns(keyed), binary=True)
        if shared:
            tolerant = SQL("" if strict else " ON CONFLICT (key) DO NOTHING")
            cursor.execute(self.shared_insert + tolerant, _columns(shared), binary=True)

    def recall(self, wanted: Sequence[Wanted]) -> list[tuple[str, str, int, str, bytes]]:
        """(account_id, key, version, topic, state) of the event behind each key that has one."""
        if not wanted:
            return []
        with reading(self.datastore) as curs:
            curs.execute(self.recall_statement, key_arrays(wanted), prepare=True, binary=True)
            return [
                (r["account_id"], r["key"], r["version"], r["topic"], bytes(r["state"]))
                for r in curs.fetchall()
            ]

    def index_built(self) -> bool:
        with reading(self.datastore) as curs:
            curs.execute(
                SQL("SELECT 1 FROM {index} WHERE account_id = %s AND key = %s").format(
                    index=self.index
                ),
                BUILT,
            )
            return curs.fetchone() is not None

    def add_to_index(self, rows: Sequence[IndexRow]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            write_index(self, curs, rows)

    def index_rows(self) -> list[IndexRow]:
        """Every key of the indexes and the version it points at (for verification)."""
        with reading(self.datastore) as curs:
            curs.row_factory = tuple_row
            curs.execute(
                SQL(
                    "SELECT account_id, key, version FROM {index} UNION ALL "
                    "SELECT account_id, key, version FROM {shared}"
                ).format(index=self.index, shared=self.shared_index)
            )
            rows: list[Any] = curs.fetchall()
        return [(row[0], row[1], row[2]) for row in rows if row[0] != BUILT[0]]


LedgerRecorder = SQLiteLedgerRecorder | PostgresLedgerRecorder


def _inserting(table: Identifier, conflict: str = "") -> Composed:
    """Insert event rows into ``table`` from four arrays (``_columns``), sent in binary."""
    return SQL(
        "INSERT INTO {table} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::bytea[])" + conflict
    ).format(table=table)


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as their columns, each one array."""
    return [list(column) for column in zip(*rows, strict=True)]


@contextmanager
def reading(datastore: SQLiteDatastore | PostgresDatastore) -> Iterator[Any]:
    """A cursor for reads of one statement each. On PostgreSQL outside a transaction block, as
    the library reads: ``transaction(commit=False)`` wraps the query in BEGIN and ROLLBACK,
    three round trips for one, which would dwarf the query itself."""
    if isinstance(datastore, PostgresDatastore):
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            yield cursor
    else:
        with datastore.transaction(commit=False) as cursor:
            yield cursor


def write_index(
    recorder: LedgerRecorder, cursor: Any, rows: Sequence[IndexRow], strict: bool = False
) -> None:
    """Point each key at its event, in the caller's transaction. ``strict``: a store-wide key
    that another event already answers fails the transaction (a rebuild keeps the first)."""
    if rows:
        recorder.write_index(cursor, rows, strict)


Keyed = TypeVar("Keyed", IndexRow, Wanted)


def _split(rows: Sequence[Keyed]) -> tuple[list[Keyed], list[Keyed]]:
    """An account's own keys, and the store-wide ones."""
    own: list[Keyed] = []
    shared: list[Keyed] = []
    for row in rows:
        (shared if store_wide(row[1]) else own).append(row)
    return own, shared


_encode = msgspec.json.Encoder().encode


def _latest(rows: Sequence[IndexRow]) -> list[IndexRow]:
    """Each key once, at its latest version: a statement may touch a row once, and a key may
    be answered twice in a batch."""
    latest: dict[Wanted, int] = {}
    for account_id, key, version in rows:
        latest[(account_id, key)] = max(version, latest.get((account_id, key), 0))
    return [(account_id, key, version) for (account_id, key), version in latest.items()]


def _answered_once(rows: Sequence[IndexRow]) -> tuple[list[IndexRow], list[IndexRow]]:
    """``_latest``'s rows split: decisions' keys (inserted, since a command is decided once)
    and the keys that move on to later events (upserted)."""
    once: list[IndexRow] = []
    moving: list[IndexRow] = []
    for row in _latest(rows):
        (once if answered_once(row[1]) else moving).append(row)
    return once, moving


def key_arrays(wanted: Sequence[Wanted]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``wanted`` as the arrays ``_recalled`` takes: the accounts and keys of the own keys,
    then those of the store-wide keys."""
    own, shared = _split(wanted)
    return [a for a, _ in own], [k for _, k in own], [a for a, _ in shared], [k for _, k in shared]


def _json_text(wanted: Sequence[Wanted]) -> str:
    """The (account, key) pairs as one JSON array of pairs, as SQLite's ``json_each`` reads it
    (text: SQLite's JSON functions refuse a blob)."""
    return _encode(wanted).decode()
