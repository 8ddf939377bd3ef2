"""Exactly one active clock: a lease row in the ledger's own database (SQLite or PostgreSQL).

The holder renews the lease well before it runs out; another clock takes it only once it has
run out, so a second clock (a rolling deploy, a mistake) waits on standby and takes over when
the first dies. One statement on both databases: an upsert that only moves the lease when it
is the holder's own or has run out. A clock that loses its lease stops sending at once; two
clocks overlapping for an instant still change nothing, because a command's id is derived from
its account and instant.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier

from services.ledger.recorders import CREATION_TURN_IN_TRANSACTION
from services.ledger.store import LedgerStore

TABLE = "clock_lease"
CREATE = (
    "CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)"
)
TAKE = (
    "INSERT INTO {table} (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    f"WHERE {TABLE}.holder = excluded.holder OR {TABLE}.expires_at <= ? RETURNING holder"
)
GIVE_UP = "DELETE FROM {table} WHERE name = ? AND holder = ?"


class Lease:
    """The ``clock`` lease in the ledger's database; times are seconds since the epoch."""

    def __init__(self, store: LedgerStore, holder: str, ttl_s: float, name: str = "clock") -> None:
        self.datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
        self.sqlite = isinstance(self.datastore, SQLiteDatastore)
        self.holder, self.ttl_s, self.name = holder, ttl_s, name
        with self.datastore.transaction(commit=True) as c:
            if not self.sqlite:
                c.execute(CREATION_TURN_IN_TRANSACTION)  # beside a standby's first start
            c.execute(self._q(CREATE))

    def take(self, now_s: float) -> bool:
        """Take or renew the lease until ``now_s + ttl_s``; whether this clock holds it."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q(TAKE), (self.name, self.holder, now_s + self.ttl_s, now_s))
            return c.fetchone() is not None

    def give_up(self) -> None:
        """Let a standby clock take over at once (on a clean stop)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q(GIVE_UP), (self.name, self.holder))

    def _q(self, template: str) -> Any:
        if self.sqlite:
            return template.format(table=TABLE)
        table = Identifier(self.datastore.schema, TABLE)
        return SQL(template.replace("?", "%s").replace("{table}", "{t}")).format(t=table)
