"""A throwaway namespace for a benchmark: its own SQLite file or PostgreSQL schema, topic
prefix and consumer group, with the schema dropped afterwards (topics are the caller's)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg

from services.settings import Settings

S = TypeVar("S", bound=Settings)


@contextmanager
def throwaway(store: str, kind: type[S] = Settings) -> Iterator[S]:  # type: ignore[assignment]
    name = f"bench_{uuid.uuid4().hex[:8]}"
    settings = kind(
        topic_prefix=f"bench.{name}",
        event_store=store,  # type: ignore[arg-type]
        sqlite_path=Path(tempfile.mkdtemp()) / "ledger.sqlite",
        postgres_schema=name,
        ledger_group_id=f"ledger-{name}",
    )
    if store == "postgres":
        with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield settings
    finally:
        if store == "postgres":
            with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {name} CASCADE")
