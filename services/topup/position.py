"""Where the top-up process is in the ledger's log: one row in the ledger's own database.

It is stored after the requests before it have been charged (or reported declined), so a
crash re-reads and asks again what may not have been charged; the provider's idempotency key
(the request id) makes the second asking the first charge.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteDatastore
from psycopg.sql import SQL, Identifier

from services.ledger.recorders import CREATION_TURN_IN_TRANSACTION
from services.ledger.store import LedgerStore

TABLE = "top_up_position"
CREATE = "CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
READ = "SELECT position FROM {table} WHERE name = ?"
SAVE = (
    "INSERT INTO {table} (name, position) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position"
)


class Position:
    def __init__(self, store: LedgerStore, name: str = "top-up") -> None:
        self.datastore: Any = store.factory.datastore  # type: ignore[attr-defined]
        self.sqlite = isinstance(self.datastore, SQLiteDatastore)
        self.name = name
        with self.datastore.transaction(commit=True) as c:
            if not self.sqlite:
                c.execute(CREATION_TURN_IN_TRANSACTION)  # beside a standby's first start
            c.execute(self._q(CREATE))

    def load(self) -> int:
        """The last notification id handled (0: none yet)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._q(READ), (self.name,))
            row = c.fetchone()
        if row is None:
            return 0
        return int(row["position"] if isinstance(row, dict) else row[0])

    def save(self, position: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q(SAVE), (self.name, position))

    def _q(self, template: str) -> Any:
        if self.sqlite:
            return template.format(table=TABLE)
        table = Identifier(self.datastore.schema, TABLE)
        return SQL(template.replace("?", "%s").replace("{table}", "{t}")).format(t=table)
