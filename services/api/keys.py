"""Idempotency keys bound to the request they first named, kept durably beside the ledger's
events (same SQLite file or PostgreSQL schema), so a key reused with another method, path or
body is refused whichever API process sees it, and after a restart.

One row per key (``command_id`` derived from the account and the key; the request's
fingerprint). A claim inserts the row if the key is new and reads back the fingerprint that
won: concurrent first uses of one key agree on one request. Rows older than
``KALEMA_API_IDEMPOTENCY_KEY_TTL_H`` are pruned now and then (the ledger still answers a very
old key's retry as a repeat by its ``command_id``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any, Protocol

import psycopg
from psycopg import sql

from services.api.limits import IdempotencyKeys
from services.api.settings import ApiSettings
from services.ledger.recorders import CREATION_TURN_IN_TRANSACTION

TABLE = "api_idempotency_keys"
PRUNE_EVERY = 1000  # claims


class KeyStore(Protocol):
    async def claim(self, command_id: str, fingerprint: str) -> bool: ...


class MemoryKeys:
    """The process's memory only (the app over fakes in unit tests)."""

    def __init__(self, keys: IdempotencyKeys) -> None:
        self.keys = keys

    async def claim(self, command_id: str, fingerprint: str) -> bool:
        return self.keys.claim(command_id, fingerprint)


class StoredKeys:
    def __init__(self, settings: ApiSettings, prune_every: int = PRUNE_EVERY) -> None:
        self.settings = settings
        self.prune_every = prune_every
        self.ttl_s = settings.api_idempotency_key_ttl_h * 3600
        self._lock = threading.Lock()
        self._claims = 0
        self._param = "?" if settings.event_store == "sqlite" else "%s"
        self._conn: Any = self._connect()
        create = (
            f"CREATE TABLE IF NOT EXISTS {TABLE} (command_id TEXT PRIMARY KEY, "
            "fingerprint TEXT NOT NULL, created_s BIGINT NOT NULL)"
        )
        if settings.event_store == "sqlite":
            self._run(create)
        else:
            with self._conn.transaction():  # beside another worker's first start
                self._conn.execute(CREATION_TURN_IN_TRANSACTION)
                self._run(create)

    def _connect(self) -> Any:
        settings = self.settings
        if settings.event_store == "sqlite":
            return sqlite3.connect(
                settings.sqlite_path, timeout=10, isolation_level=None, check_same_thread=False
            )
        conn = psycopg.connect(settings.postgres_dsn(), autocommit=True)
        schema = sql.Identifier(settings.postgres_schema)
        conn.execute(sql.SQL("SET search_path TO {}").format(schema))
        return conn

    async def claim(self, command_id: str, fingerprint: str) -> bool:
        return await asyncio.to_thread(self._claim, command_id, fingerprint)

    def close(self) -> None:
        self._conn.close()

    def _claim(self, command_id: str, fingerprint: str) -> bool:
        with self._lock:
            try:
                return self._claim_locked(command_id, fingerprint)
            except psycopg.OperationalError:  # the database restarted: one fresh connection
                self._conn.close()
                self._conn = self._connect()
                return self._claim_locked(command_id, fingerprint)

    def _claim_locked(self, command_id: str, fingerprint: str) -> bool:
        p, now = self._param, int(time.time())
        self._run(
            f"INSERT INTO {TABLE} (command_id, fingerprint, created_s) VALUES ({p}, {p}, {p}) "
            "ON CONFLICT (command_id) DO NOTHING",
            command_id,
            fingerprint,
            now,
        )
        rows = self._run(f"SELECT fingerprint FROM {TABLE} WHERE command_id = {p}", command_id)
        first = rows[0][0]
        self._claims += 1
        if self._claims % self.prune_every == 0:
            self._run(f"DELETE FROM {TABLE} WHERE created_s < {p}", now - self.ttl_s)
        return bool(first == fingerprint)

    def _run(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []
