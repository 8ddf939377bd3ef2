"""The balance read model: a ``balances`` table and the projector's position in the ledger's
log, in the ledger's own database (the same SQLite file or PostgreSQL schema).

A batch's rows and the position after it are written in one transaction (``recorders``), so
after a crash the table and the position agree and the projector resumes exactly where its last
commit ended. The position moves by compare-and-set, so a second projector, or a rebuild under
a running one, makes a commit fail and the projector re-read, never skip. Each row has the
figures as columns, for queries, and the whole view and alert state as JSON, so a restart needs
nothing but this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from eventsourcing.sqlite import SQLiteDatastore

from events.balances import BalanceUpdated
from projections import alerts, balance, finance
from projections.batch import Entry
from projections.finance_tables import Periods, Usage
from projections.history import Row
from projections.recorders import (
    NAMES,
    SOURCE,
    HistoryRows,
    PositionMoved,
    PostgresBalanceRecorder,
    SQLiteBalanceRecorder,
    Stored,
)
from services.ledger.store import LedgerStore
from services.settings import Settings
from services.startup import opened

__all__ = ["BalanceReadModel", "PositionMoved", "message_of", "open_read_model"]


class BalanceReadModel:
    """Queries and writes of the read model, next to the ledger's store it is folded from."""

    def __init__(self, ledger: LedgerStore) -> None:
        self.ledger = ledger
        datastore = ledger.factory.datastore  # type: ignore[attr-defined]
        events = ledger.ledger_recorder.events_table_name  # where history pages find their lines
        self.recorder: SQLiteBalanceRecorder | PostgresBalanceRecorder = (
            SQLiteBalanceRecorder(datastore, events)
            if isinstance(datastore, SQLiteDatastore)
            else PostgresBalanceRecorder(datastore, events)
        )
        self.recorder.create_table()

    def get(self, account_id: str) -> balance.BalanceView | None:
        rows = self.recorder.select([account_id])
        return balance.load(account_id, rows[0]["view"]) if rows else None

    def all(self) -> dict[str, balance.BalanceView]:
        return {
            r["account_id"]: balance.load(r["account_id"], r["view"])
            for r in self.recorder.select()
        }

    def entries(self, ids: Sequence[str]) -> tuple[dict[str, Entry], dict[str, str]]:
        """The stored entries of these accounts, and the reason for any that cannot be read."""
        found: dict[str, Entry] = {}
        unreadable: dict[str, str] = {}
        for row in self.recorder.select(ids):
            try:
                view, books = balance.load_with_books(row["account_id"], row["view"])
                state = alerts.load(orjson.loads(row["alerts"]))
                found[row["account_id"]] = Entry(view, state, finance.load(books or {}))
            except ValueError as error:
                unreadable[row["account_id"]] = str(error)
        return found, unreadable

    def position(self) -> int:
        """The last notification of the ledger's log folded into the table (0: none)."""
        return self.recorder.max_tracking_id(SOURCE) or 0

    def lag(self) -> int:
        """Events stored by the ledger and not yet in the read model."""
        return max(0, (self.ledger.recorder.max_notification_id() or 0) - self.position())

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
        self.recorder.save(entries, previous, position, quarantined, events, periods, usage)

    def history(self, account_id: str, upto: int, offset: int, limit: int) -> list[Row]:
        """A page of the account's history up to version ``upto``, newest first."""
        return self.recorder.history_page(account_id, upto, offset, limit)

    def replace_all(
        self, entries: Iterable[Entry], position: int, quarantined: Mapping[str, str] | None = None
    ) -> None:
        self.recorder.replace_all(entries, position, quarantined or {})

    def quarantined(self) -> dict[str, str]:
        """Accounts the projector stopped folding (an event of theirs could not be folded)."""
        return self.recorder.quarantined()

    def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        return self.recorder.snapshot()

    def page(self, after: str, limit: int) -> list[dict[str, Any]]:
        """Rows after account ``after``, at most ``limit``, in account order (the clock reads
        the table this way, a page at a time)."""
        return self.recorder.page(after, limit)


def open_read_model(settings: Settings) -> tuple[LedgerStore, BalanceReadModel]:
    """The ledger's store and the read model beside it, created if missing; retried, since on
    a fresh database the ledger or another reader may be creating the same tables at once."""

    def open_() -> tuple[LedgerStore, BalanceReadModel]:
        store = LedgerStore(settings)
        try:
            return store, BalanceReadModel(store)
        except Exception:
            store.close()
            raise

    return opened(open_, "the store")


def message_of(row: dict[str, Any]) -> BalanceUpdated:
    """The balance as the row's columns say it."""
    return BalanceUpdated.model_validate({name: row[name] for name in NAMES[:-2]})
