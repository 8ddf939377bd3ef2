"""The read model's tables in both databases, as eventsourcing tracking recorders.

The recorders are eventsourcing's SQLite and PostgreSQL tracking recorders with the ``balances``
table added (the library's ``TrackingRecorder`` pattern): a batch's rows and the position after
it are written in ONE transaction. The position has its own single-row tracking table,
``balances_tracking``, under the ledger's name (``ledger``), and moves by compare-and-set: it
must still be where the writer last left it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, NamedTuple

import orjson
from eventsourcing.persistence import IntegrityError
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from events.balances import BalanceUpdated
from projections import alerts, balance, finance, finance_tables, history
from projections.batch import Entry
from projections.finance_tables import PERIODS, USAGE, USAGE_BY_TOOL, Periods, Usage
from services.ledger.recorders import TakingTurnsToCreate, reading
from services.ledger.store import gc_paused

log = logging.getLogger("kalema.projector")
TABLE, TRACKING, SOURCE, HISTORY = "balances", "balances_tracking", "ledger", "account_history"
HISTORY_BY_ACCOUNT = "history"  # the history keyed by account and version, before issue 26
QUARANTINE, LEASE = "balances_quarantine", "projector_lease"
FIGURES = ("subscription", "purchased", "granted", "held", "total", "plan_credits")
COLUMNS = (
    ("account_id", "TEXT PRIMARY KEY"),
    ("version", "BIGINT NOT NULL"),
    *((name, "BIGINT NOT NULL") for name in FIGURES),
    ("plan", "TEXT"),
    ("billing_interval", "TEXT"),
    ("pending_plan", "TEXT"),
    ("cycle_end", "{time}"),
    ("subscription_expires_at", "{time}"),
    ("updated_at", "{time} NOT NULL"),
    ("view", "TEXT NOT NULL"),
    ("alerts", "TEXT NOT NULL"),
)
TIMES = ("cycle_end", "subscription_expires_at", "updated_at")
NAMES = [name for name, _ in COLUMNS]
# The columns a row takes from its BalanceUpdated, read by attribute (no model_dump): the
# times last, as they are in the table, so each store can convert them.
_message_columns = attrgetter(*NAMES[:-2])
_FIRST_TIME = NAMES.index(TIMES[0])
assert NAMES[_FIRST_TIME : _FIRST_TIME + len(TIMES)] == list(TIMES) == NAMES[-5:-2]
CREATE = "CREATE TABLE IF NOT EXISTS {table} (" + ", ".join(f"{n} {t}" for n, t in COLUMNS) + ")"
UPSERT = (
    f"INSERT INTO {{table}} ({', '.join(NAMES)}) VALUES ({', '.join('?' * len(NAMES))}) "
    f"ON CONFLICT (account_id) DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in NAMES[1:])
)
POSITION = "SELECT notification_id FROM {tracking} WHERE application_name = ?"
# The accounts' history, one row per event, keyed by the event's place in the ledger's log: a
# page's lines are appended. Keyed by account and version, each line was an insert at a
# random place of that key, 13 % of the SQLite projector's CPU (BENCHMARKS.md, issue 26). An
# account's page is found by the ledger's own key of its stream (``HISTORY_PAGE``).
HISTORY_COLUMNS = (
    ("position", "{position} PRIMARY KEY"),  # SQLite: INTEGER, the table's own rowid
    ("account_id", "TEXT NOT NULL"),
    ("version", "BIGINT NOT NULL"),
    ("at", "{time} NOT NULL"),
    *((name, "TEXT NOT NULL") for name in ("command_id", "event", "what", "item")),
    *((f"{kind}_change", "BIGINT NOT NULL") for kind in ("subscription", "purchased", "granted")),
    ("held_change", "BIGINT NOT NULL"),
    *((name, "BIGINT NOT NULL") for name in ("subscription", "purchased", "granted", "held")),
    ("total", "BIGINT NOT NULL"),
)
HISTORY_NAMES = [name for name, _ in HISTORY_COLUMNS]
assert [f.name for f in fields(history.Row)] == HISTORY_NAMES[2:]  # (position, account, *fields)
CREATE_HISTORY = (
    "CREATE TABLE IF NOT EXISTS {history} ("
    + ", ".join(f"{n} {t}" for n, t in HISTORY_COLUMNS)
    + ")"
)
ADD_HISTORY = (
    f"INSERT INTO {{history}} ({', '.join(HISTORY_NAMES)}) "
    f"VALUES ({', '.join('?' * len(HISTORY_NAMES))})"
)
INSERT_HISTORY = f"{ADD_HISTORY} ON CONFLICT (position) DO NOTHING"
HISTORY_PAGE = (
    f"SELECT {', '.join(f'h.{n}' for n in HISTORY_NAMES[2:])} FROM {{events}} e "
    "JOIN {history} h ON h.position = e.{log_id} WHERE e.originator_id = ? "
    "AND e.originator_version <= ? AND e.originator_version > ? "
    "ORDER BY e.originator_version DESC"
)
# PostgreSQL writes a page's rows by COPY into a session's temporary table, emptied at commit,
# then moves them with one statement (keeping the upsert's and the history's conflict rules).
INCOMING_BALANCES, INCOMING_HISTORY = "balances_incoming", "history_incoming"
INCOMING = "CREATE TEMPORARY TABLE IF NOT EXISTS {incoming} (LIKE {source}) ON COMMIT DELETE ROWS"
# Binary: psycopg writes a row's integers and texts as they are, where text COPY escapes
# every character of the views (a quarter of the time per row: BENCHMARKS.md, issue 26).
COPY = "COPY {incoming} ({names}) FROM STDIN (FORMAT BINARY)"
UPSERT_INCOMING = (
    f"INSERT INTO {{table}} ({', '.join(NAMES)}) SELECT {', '.join(NAMES)} "
    f"FROM {INCOMING_BALANCES} ON CONFLICT (account_id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n in NAMES[1:])
)
INSERT_HISTORY_INCOMING = (
    f"INSERT INTO {{history}} ({', '.join(HISTORY_NAMES)}) SELECT {', '.join(HISTORY_NAMES)} "
    f"FROM {INCOMING_HISTORY} ON CONFLICT (position) DO NOTHING"
)


def copy_types(columns: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Each column's PostgreSQL type as a binary COPY is told it, from its declaration."""
    types = {"TEXT": "text", "BIGINT": "int8", "{time}": "timestamptz", "{position}": "int8"}
    return tuple(types[declared.split()[0]] for _, declared in columns)


class Copied(NamedTuple):
    """A table as a page COPYs it: its session table, the table (its placeholder), the
    columns and their PostgreSQL types, and the statement that writes the session table's
    rows into it."""

    incoming: str
    source: str
    names: Sequence[str]
    types: Sequence[str]
    write: str

    @classmethod
    def book(cls, table: finance_tables.Table) -> Copied:
        incoming = f"{table.name}_incoming"
        write = table.upsert(f"SELECT {', '.join(table.names)} FROM {incoming}")
        return cls(incoming, table.placeholder, table.names, table.types, write)


BALANCES_COPY = Copied(INCOMING_BALANCES, "{table}", NAMES, copy_types(COLUMNS), UPSERT_INCOMING)
HISTORY_COPY = Copied(
    INCOMING_HISTORY, "{history}", HISTORY_NAMES, copy_types(HISTORY_COLUMNS),
    INSERT_HISTORY_INCOMING,
)  # fmt: skip
MONTHS_COPY, DAYS_COPY = Copied.book(finance_tables.MONTHS), Copied.book(finance_tables.DAYS)
assert len(finance_tables.PERIOD_TYPES) == len(finance_tables.PERIOD_NAMES)
assert len(finance_tables.USAGE_TYPES) == len(finance_tables.USAGE_NAMES)
SMALL_PAGE = 30  # rows of the largest table: up to this many, pipelined statements; above, COPY
HistoryRows = Iterable[history.Line]  # (account, *a Row's fields)
Stored = tuple[Entry, BalanceUpdated]  # an entry and its balance message
CREATE_QUARANTINE = (
    "CREATE TABLE IF NOT EXISTS {quarantine} (account_id TEXT PRIMARY KEY, "
    "notification_id BIGINT NOT NULL, error TEXT NOT NULL)"
)
CREATE_LEASE = (
    "CREATE TABLE IF NOT EXISTS {lease} (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)"
)
TAKE_LEASE = (
    "INSERT INTO {lease} AS l (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE l.holder = excluded.holder OR l.expires_at < ? RETURNING holder"
)


def iso(moment: datetime) -> str:
    """``moment.isoformat()``, as SQLite stores a time. orjson writes the same text at a third
    of the cost, and a page writes three times per row and one per history line: most of them
    seen just before (an event's time is its row's ``updated_at`` and its history line's, an
    account's cycle end is the same in each of its rows), so the texts of recent UTC times are
    kept (only UTC: equal times at other offsets are written otherwise)."""
    if moment.tzinfo is not UTC:
        return orjson.dumps(moment)[1:-1].decode()
    text = _ISO.get(moment)
    if text is None:
        if len(_ISO) >= _ISO_KEPT:
            _ISO.clear()
        text = _ISO[moment] = orjson.dumps(moment)[1:-1].decode()
    return text


_ISO: dict[datetime, str] = {}
_ISO_KEPT = 1 << 14  # a few MB at most; a page's times, and the cycles' ends


def _books(periods: Periods, usage: Usage) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The finance periods' rows and the days' usage rows."""
    months = [finance_tables.period_row(a, p) for (a, _), p in periods.items()]
    return months, list(finance_tables.usage_rows(usage))


def _kept_books(account_id: str, view: str) -> dict[str, Any] | None:
    """The books a row's view keeps beside the balance (``balance.dump``), as data; none from
    a view of another format (the finance tables hold all that its writer kept). ``ValueError``
    if the view cannot be read."""
    try:
        doc = orjson.loads(view)
        books = doc.get("books") if doc.get("format") == balance.FORMAT else None
    except AttributeError as error:  # JSON, but not a view's object
        raise ValueError(f"unreadable view of {account_id}: {error!r}") from error
    if books is not None and not isinstance(books, dict):
        raise ValueError(f"unreadable books of {account_id}: {books!r}")
    return books


def _latest_period(account_id: str, view: str) -> finance.Period | None:
    """The account's latest month, from its row's books (``_kept_books``)."""
    books = _kept_books(account_id, view)
    if books is None or books.get("period") is None:
        return None
    try:
        return finance.period_from(books["period"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"unreadable books of {account_id}: {error!r}") from error


class _Page(NamedTuple):
    """A page's rows as ``write_page`` takes them, with the row count of its largest table."""

    largest: int
    rows: list[tuple[Any, ...]]
    lines: list[tuple[Any, ...]]
    months: list[tuple[Any, ...]]
    days: list[tuple[Any, ...]]


class PositionMoved(RuntimeError):
    """The stored position is not where this projector left it: someone else wrote it."""


class _BalanceTable:
    """The table's statements, the same for both databases but for quoting and types."""

    datastore: Any
    dialect = "sqlite"
    time_type = "TEXT"
    position_type = "INTEGER"  # a key of this type is the SQLite table's own rowid
    log_id = "rowid"  # the ledger's events table's column of their place in its log
    events_table = "stored_events"  # the ledger's events, as its recorder names them
    times_as_they_are = False  # whether ``time_param`` leaves a time as it is

    def q(self, template: str) -> Any:
        return template.format(
            table=TABLE,
            tracking=TRACKING,
            history=HISTORY,
            quarantine=QUARANTINE,
            lease=LEASE,
            periods=PERIODS,
            usage=USAGE,
            usage_by_tool=USAGE_BY_TOOL,
            history_by_account=HISTORY_BY_ACCOUNT,
            events=self.events_table,
            log_id=self.log_id,
            time=self.time_type,
            position=self.position_type,
        )

    def time_param(self, moment: datetime | None) -> Any:
        return None if moment is None else iso(moment)

    @contextmanager
    def snapshot_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as c:
            yield c

    def save(
        self,
        entries: Iterable[Stored],
        previous: int,
        position: int,
        quarantined: Mapping[str, str] | None = None,
        events: HistoryRows = (),
        periods: Periods | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Write these rows, the events' history, the finance months and days they closed
        (and quarantined accounts) and move the position from ``previous`` to ``position``,
        atomically."""
        with gc_paused():  # a page's rows are acyclic: reference counting frees them
            rows = [self.row(entry, message) for entry, message in entries]
            lines = [self.history_row(line) for line in events]
            months, days = _books(periods or {}, usage or {})
        page = _Page(max(len(rows), len(lines), len(months), len(days)), rows, lines, months, days)
        try:
            self._save_page(page, previous, position, quarantined, new_lines=True)
        except IntegrityError:
            # A page's lines follow the position, and are committed with it, so none is stored
            # yet, and they are added without looking; should one be there all the same (a
            # table written by hand, say), the page keeps it rather than stop the projector.
            log.warning("a history line of the page after %d was stored already", previous)
            self._save_page(page, previous, position, quarantined, new_lines=False)

    def _save_page(
        self,
        page: _Page,
        previous: int,
        position: int,
        quarantined: Mapping[str, str] | None,
        new_lines: bool,
    ) -> None:
        with self.page_transaction(page.largest) as c:
            # writes first: in SQLite a write takes the lock, waiting if need be
            self.write_page(c, *page, new_lines=new_lines)
            if quarantined:
                self._quarantine(c, quarantined, position)
            if previous:
                c.execute(
                    self.q(
                        "UPDATE {tracking} SET notification_id = ? WHERE application_name = ? "
                        "AND notification_id = ? RETURNING notification_id"
                    ),
                    (position, SOURCE, previous),
                )
            else:
                c.execute(
                    self.q(
                        "INSERT INTO {tracking} (application_name, notification_id) VALUES (?, ?) "
                        "ON CONFLICT (application_name) DO NOTHING RETURNING notification_id"
                    ),
                    (SOURCE, position),
                )
            if c.fetchone() is None:
                raise PositionMoved(f"the read model is no longer at notification {previous}")

    def replace_all(
        self, entries: Iterable[Entry], position: int, quarantined: Mapping[str, str]
    ) -> None:
        """Drop the table and write it anew with ``position``, in one transaction."""
        rows = [self.row(entry, entry.view.message()) for entry in entries]
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q("DROP TABLE IF EXISTS {table}"))
            c.execute(self.q(CREATE))
            if rows:
                c.executemany(self.q(UPSERT), rows)
            c.execute(self.q("DELETE FROM {quarantine}"))
            self._quarantine(c, quarantined, position)
            c.execute(self.q("DELETE FROM {tracking} WHERE application_name = ?"), (SOURCE,))
            if position:
                c.execute(
                    self.q(
                        "INSERT INTO {tracking} (application_name, notification_id) VALUES (?, ?)"
                    ),
                    (SOURCE, position),
                )

    @contextmanager
    def page_transaction(self, largest: int) -> Iterator[Any]:
        """The transaction that saves a page whose largest table has ``largest`` rows."""
        with self.datastore.transaction(commit=True) as c:
            yield c

    def write_page(
        self,
        c: Any,
        largest: int,
        rows: list[tuple[Any, ...]],
        lines: list[tuple[Any, ...]],
        months: list[tuple[Any, ...]],
        days: list[tuple[Any, ...]],
        new_lines: bool = False,
    ) -> None:
        """A page's balance rows, history lines and books, in ``page_transaction``.
        ``new_lines``: none of the history lines can be stored already, so they are added
        without looking for one (a line there all the same fails the transaction)."""
        if rows:
            self.upsert(c, rows)
        if lines and new_lines:
            c.executemany(self.q(ADD_HISTORY), lines)
        elif lines:
            self.insert_history(c, lines)
        self._book(c, months, days)

    def upsert(self, c: Any, rows: list[tuple[Any, ...]]) -> None:
        """Insert or replace these balance rows (one per account)."""
        c.executemany(self.q(UPSERT), rows)

    def insert_history(self, c: Any, lines: list[tuple[Any, ...]]) -> None:
        """Add these history rows; one already there (same account and version) is kept."""
        c.executemany(self.q(INSERT_HISTORY), lines)

    def clear_history(self) -> None:
        """Drop the history and the finance tables, to be written anew (a rebuild), and the
        history and the days as they were kept before issue 26 (by account and version, by
        day and tool), if they are there."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q("DROP TABLE IF EXISTS {history_by_account}"))
            c.execute(self.q("DROP TABLE IF EXISTS {usage_by_tool}"))
            for table, create in (
                ("{history}", CREATE_HISTORY),
                ("{periods}", finance_tables.CREATE_PERIODS),
                ("{usage}", finance_tables.CREATE_USAGE),
            ):
                c.execute(self.q(f"DROP TABLE IF EXISTS {table}"))
                c.execute(self.q(create))

    def add_history(
        self, events: HistoryRows, periods: Periods | None = None, usage: Usage | None = None
    ) -> None:
        lines = [self.history_row(line) for line in events]
        months, days = _books(periods or {}, usage or {})
        with self.datastore.transaction(commit=True) as c:
            if lines:
                self.insert_history(c, lines)
            self._book(c, months, days)

    def _book(self, c: Any, months: list[tuple[Any, ...]], days: list[tuple[Any, ...]]) -> None:
        """Upsert the finance periods' rows and the days' usage rows."""
        if months:
            self.upsert_book(c, finance_tables.MONTHS, months)
        if days:
            self.upsert_book(c, finance_tables.DAYS, days)

    def upsert_book(self, c: Any, table: finance_tables.Table, rows: list[tuple[Any, ...]]) -> None:
        c.executemany(self.q(table.from_values), rows)

    def periods(self, upto: str) -> list[tuple[str, finance.Period]]:
        """Every account's months up to ``upto`` (YYYY-MM), by account and month: those over
        from their table, each account's latest from its row's books (``Projected.booked``),
        read as of one instant. The row's month wins over a row of the same month in the
        table (one written while the table still kept the open month)."""
        months: dict[str, list[finance.Period]] = {}
        with self.snapshot_transaction() as c:
            c.execute(self.q(finance_tables.SELECT_PERIODS), (upto,))
            for row in c.fetchall():  # by account and month
                account_id, period = finance_tables.period_of(dict(row))
                months.setdefault(account_id, []).append(period)
            c.execute(self.q("SELECT account_id, view FROM {table}"))
            for row in c.fetchall():
                latest = _latest_period(row["account_id"], row["view"])
                if latest is None or latest.month > upto:
                    continue
                kept = months.setdefault(row["account_id"], [])
                if kept and kept[-1].month == latest.month:
                    kept[-1] = latest
                else:  # a month is in the table only once the row has gone past it
                    kept.append(latest)
        return [(account_id, p) for account_id in sorted(months) for p in months[account_id]]

    def usage(self, account_id: str, first: str, last: str) -> list[tuple[str, str, int, int]]:
        """The account's (day, tool, uses, credits) from day ``first`` to ``last``: the days
        over from their table, its latest day from its row's books (which wins, as above)."""
        days: dict[tuple[str, str], tuple[int, int]] = {}
        with self.snapshot_transaction() as c:
            c.execute(self.q(finance_tables.SELECT_USAGE), (account_id, first, last))
            for r in c.fetchall():
                days.update(finance_tables.day_usage(r["day"], r["tools"]))
            c.execute(self.q("SELECT view FROM {table} WHERE account_id = ?"), (account_id,))
            row = c.fetchone()
        kept = None if row is None else _kept_books(account_id, row["view"])
        books = finance.Books() if kept is None else finance.load(kept)
        if books.day and first <= books.day <= last:
            days = {key: figures for key, figures in days.items() if key[0] != books.day}
            days.update(((books.day, tool), figures) for tool, figures in books.today.items())
        return [(day, tool, *days[day, tool]) for day, tool in sorted(days)]

    def merge_usage_by_tool(self) -> bool:
        """Merge the days of a read model that kept a row per day and tool (before issue 26:
        ``finance_tables``) into the day rows, and drop their table, in one transaction;
        whether there was one. The leading projector does it as it takes the lease, so no one
        else writes these tables meanwhile."""
        if not self.has_table(USAGE_BY_TOOL):
            return False
        tools = finance_tables.TOOLS_OBJECT[self.dialect]
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(finance_tables.MERGE_USAGE_BY_TOOL.replace("{tools}", tools)))
            c.execute(self.q("DROP TABLE {usage_by_tool}"))
        log.info("merged the usage kept a row per tool into a row per day")
        return True

    def has_table(self, name: str) -> bool:
        """Whether the read model's database has a table of that name."""
        with reading(self.datastore) as c:
            c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
            return c.fetchone() is not None

    def has_books(self) -> bool:
        """Whether the read model keeps books: a month over in their table, or a row whose
        view holds its books (a read model from before the books has neither)."""
        with reading(self.datastore) as c:
            c.execute(self.q("SELECT 1 FROM {periods} LIMIT 1"))
            if c.fetchone() is not None:
                return True
            c.execute(self.q("SELECT account_id, view FROM {table} LIMIT 1"))
            row = c.fetchone()
        try:
            return row is not None and _kept_books(row["account_id"], row["view"]) is not None
        except ValueError:  # an unreadable row: the projector rebuilds it from its stream
            return True

    def history_page(
        self, account_id: str, upto: int, offset: int, limit: int
    ) -> list[history.Row]:
        """Events of the account up to version ``upto``, newest first. There is one entry per
        version, so the page is a range of versions: a short scan of the primary key at any
        depth (``OFFSET`` would walk every entry it skips)."""
        newest = upto - offset
        with reading(self.datastore) as c:
            c.execute(self.q(HISTORY_PAGE), (account_id, newest, newest - limit))
            return [
                history.Row(**{**dict(r), "at": self.time_value(dict(r)["at"])})
                for r in c.fetchall()
            ]

    def has_history(self) -> bool:
        """Whether the history holds anything (a read model from before it existed does not)."""
        with reading(self.datastore) as c:
            c.execute(self.q("SELECT 1 FROM {history} LIMIT 1"))
            return c.fetchone() is not None

    def history_row(self, line: history.Line) -> tuple[Any, ...]:
        """The history's line as the table's parameters (its time as this store takes it)."""
        return (line[0], line[1], line[2], self.time_param(line[3]), *line[4:])

    def time_value(self, stored: Any) -> datetime:
        return datetime.fromisoformat(stored) if isinstance(stored, str) else stored

    def _quarantine(self, c: Any, quarantined: Mapping[str, str], position: int) -> None:
        c.executemany(
            self.q(
                "INSERT INTO {quarantine} (account_id, notification_id, error) VALUES (?, ?, ?) "
                "ON CONFLICT (account_id) DO NOTHING"
            ),
            [(account_id, position, error) for account_id, error in quarantined.items()],
        )

    def quarantined(self) -> dict[str, str]:
        """Accounts whose events could not be folded, with the reason."""
        with reading(self.datastore) as c:
            c.execute(self.q("SELECT account_id, error FROM {quarantine} ORDER BY account_id"))
            return {row["account_id"]: row["error"] for row in c.fetchall()}

    def take_lease(self, holder: str, now: float, ttl_s: float) -> bool:
        """Hold (or keep) the projector's lease until ``now + ttl_s``, unless another holder
        has it and it has not expired."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q(TAKE_LEASE), (SOURCE, holder, now + ttl_s, now))
            return c.fetchone() is not None

    def release_lease(self, holder: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.q("DELETE FROM {lease} WHERE name = ? AND holder = ?"), (SOURCE, holder))

    def lease_holder(self) -> str | None:
        with reading(self.datastore) as c:
            c.execute(self.q("SELECT holder FROM {lease} WHERE name = ?"), (SOURCE,))
            row = c.fetchone()
            return None if row is None else str(row["holder"])

    def select(self, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        with reading(self.datastore) as c:
            if ids is None:
                c.execute(self.q("SELECT * FROM {table} ORDER BY account_id"))
                return [dict(row) for row in c.fetchall()]
            found: list[dict[str, Any]] = []
            for n in range(0, len(ids), 500):
                chunk = ids[n : n + 500]
                marks = ", ".join("?" * len(chunk))
                c.execute(self.q(f"SELECT * FROM {{table}} WHERE account_id IN ({marks})"), chunk)
                found += [dict(row) for row in c.fetchall()]
            return found

    def page(self, after: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows' ``account_id``, ``version`` and ``view``, the first accounts
        after ``after`` in order (by the primary key: each page costs what it reads)."""
        with reading(self.datastore) as c:
            c.execute(
                self.q(
                    "SELECT account_id, version, view FROM {table} WHERE account_id > ? "
                    "ORDER BY account_id LIMIT ?"
                ),
                (after, limit),
            )
            return [dict(row) for row in c.fetchall()]

    def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        """The position and every row, as of one instant."""
        with self.snapshot_transaction() as c:
            c.execute(self.q(POSITION), (SOURCE,))
            row = c.fetchone()
            c.execute(self.q("SELECT * FROM {table} ORDER BY account_id"))
            position = row["notification_id"] if row else 0
            return position or 0, [dict(r) for r in c.fetchall()]

    def row(self, entry: Entry, message: BalanceUpdated) -> tuple[Any, ...]:
        """The entry's row: ``message`` (its balance as published) gives the columns."""
        columns = _message_columns(message)
        if not self.times_as_they_are:  # a row for each changed account of every page
            columns = (*columns[:_FIRST_TIME], *map(self.time_param, columns[_FIRST_TIME:]))
        return (
            *columns,
            balance.dump(entry.view, finance.dump(entry.books)),
            orjson.dumps(alerts.dump(entry.alerts)).decode(),
        )


class SQLiteBalanceRecorder(_BalanceTable, SQLiteTrackingRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table: str = "stored_events") -> None:
        self.events_table = events_table
        super().__init__(datastore)
        self.insert_tracking_statement = self.insert_tracking_statement.replace(
            "tracking", TRACKING
        )
        self.select_max_tracking_id_statement = self.q(
            "SELECT MAX(notification_id) FROM {tracking} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {TRACKING} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID",
            self.q(CREATE),
            self.q(CREATE_HISTORY),
            self.q(CREATE_QUARANTINE),
            self.q(CREATE_LEASE),
            self.q(finance_tables.CREATE_PERIODS),
            self.q(finance_tables.CREATE_USAGE),
        ]


class PostgresBalanceRecorder(_BalanceTable, TakingTurnsToCreate, PostgresTrackingRecorder):
    dialect = "postgres"
    time_type = "TIMESTAMPTZ"
    position_type = "BIGINT"
    log_id = "notification_id"
    times_as_they_are = True

    def __init__(self, datastore: PostgresDatastore, events_table: str = "stored_events") -> None:
        self.events_table = events_table
        super().__init__(datastore, tracking_table_name=TRACKING)
        self.sql_create_statements += [
            self.q(CREATE),
            self.q(CREATE_HISTORY),
            self.q(CREATE_QUARANTINE),
            self.q(CREATE_LEASE),
            self.q(finance_tables.CREATE_PERIODS),
            self.q(finance_tables.CREATE_USAGE),
        ]

    def q(self, template: str) -> Composed:
        schema = self.datastore.schema
        text = template.replace("{time}", self.time_type).replace("{position}", self.position_type)
        text = text.replace("{log_id}", self.log_id).replace("?", "%s")
        return SQL(text).format(
            table=Identifier(schema, TABLE),
            tracking=Identifier(schema, TRACKING),
            history=Identifier(schema, HISTORY),
            quarantine=Identifier(schema, QUARANTINE),
            lease=Identifier(schema, LEASE),
            periods=Identifier(schema, PERIODS),
            usage=Identifier(schema, USAGE),
            usage_by_tool=Identifier(schema, USAGE_BY_TOOL),
            history_by_account=Identifier(schema, HISTORY_BY_ACCOUNT),
            events=Identifier(schema, self.events_table),
        )

    def has_table(self, name: str) -> bool:
        with reading(self.datastore) as c:
            c.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name = %s",
                (self.datastore.schema, name),
            )
            return c.fetchone() is not None

    def time_param(self, moment: datetime | None) -> Any:
        return moment

    def history_row(self, line: history.Line) -> tuple[Any, ...]:
        return line  # its time is taken as it is

    @contextmanager
    def page_transaction(self, largest: int) -> Iterator[Any]:
        """A small page (none of its tables above ``SMALL_PAGE`` rows) in pipeline mode: its
        statements go out together, and the commit costs a round trip or two. A larger page
        is COPYed (``write_page``): its rows cost a fraction of a statement's each, for a
        few round trips more (see BENCHMARKS.md, issue 26)."""
        if largest > SMALL_PAGE:
            with self.datastore.transaction(commit=True) as c:
                yield c
            return
        with (
            self.datastore.get_connection() as connection,
            connection.pipeline(),
            connection.transaction(),
            connection.cursor() as c,
        ):
            yield c

    def write_page(
        self,
        c: Any,
        largest: int,
        rows: list[tuple[Any, ...]],
        lines: list[tuple[Any, ...]],
        months: list[tuple[Any, ...]],
        days: list[tuple[Any, ...]],
        new_lines: bool = False,
    ) -> None:
        """A small page as pipelined statements; a larger one's tables COPYed (``_copied``),
        its history lines, when ``new_lines``, straight into the history table (no session
        table, no look for a line there already)."""
        if largest <= SMALL_PAGE:
            super().write_page(c, largest, rows, lines, months, days, new_lines)
            return
        tables = ((BALANCES_COPY, rows), (MONTHS_COPY, months), (DAYS_COPY, days))
        if not new_lines:
            self._copied(c, [*tables, (HISTORY_COPY, lines)])
            return
        self._copied(c, tables)
        if lines:  # straight into the table: no session table, no look for rows already there
            self._copy(c, HISTORY_COPY.source, HISTORY_COPY, lines)

    def upsert(self, c: Any, rows: list[tuple[Any, ...]]) -> None:
        """Upsert the rows, COPYed when there are more than a few (``_copied``)."""
        if len(rows) <= SMALL_PAGE:
            super().upsert(c, rows)
            return
        self._copied(c, [(BALANCES_COPY, rows)])

    def insert_history(self, c: Any, lines: list[tuple[Any, ...]]) -> None:
        """As ``upsert``: what is already there is kept."""
        if len(lines) <= SMALL_PAGE:
            super().insert_history(c, lines)
            return
        self._copied(c, [(HISTORY_COPY, lines)])

    def upsert_book(self, c: Any, table: finance_tables.Table, rows: list[tuple[Any, ...]]) -> None:
        """As ``upsert``, for a finance table (the months, or the days' usage)."""
        if len(rows) <= SMALL_PAGE:
            super().upsert_book(c, table, rows)
            return
        self._copied(c, [(MONTHS_COPY if table is finance_tables.MONTHS else DAYS_COPY, rows)])

    def _copied(self, c: Any, tables: Iterable[tuple[Copied, list[tuple[Any, ...]]]]) -> None:
        """COPY each table's rows into its session table (shaped like the table, emptied at
        commit), then write them from there into the table, one statement each: a page's rows
        in a few round trips, not a statement each (the profile's largest item). The session
        tables are made in one round trip, and the writes go in another."""
        tables = [(copied, rows) for copied, rows in tables if rows]
        with c.connection.pipeline():
            for copied, _ in tables:
                c.execute(self.q(INCOMING.format(incoming=copied.incoming, source=copied.source)))
        for copied, rows in tables:
            self._copy(c, copied.incoming, copied, rows)
        with c.connection.pipeline():
            for copied, _ in tables:
                c.execute(self.q(copied.write))

    def _copy(self, c: Any, into: str, copied: Copied, rows: list[tuple[Any, ...]]) -> None:
        """A binary COPY of ``rows`` (``copied``'s columns) into table ``into``."""
        names = ", ".join(copied.names)
        with c.copy(self.q(COPY.format(incoming=into, names=names))) as cp:
            cp.set_types(copied.types)
            for row in rows:
                cp.write_row(row)

    @contextmanager
    def snapshot_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield c
