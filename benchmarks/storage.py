"""What a command costs PostgreSQL in bytes: tables, indexes and write-ahead log, per command
and per event, for SCALING.md (issue 15). Sizes, not speeds: a busy machine does not skew them.

    .venv/bin/python -m benchmarks.storage [--accounts 10000] [--commands 100000]

Decides and stores the end-to-end benchmark's mix (``benchmarks/mix.py``) through the
ledger's own batch path (``Ledger.decide_batch`` and ``commit``, no Kafka) into a throwaway
PostgreSQL schema, folds the read model and its history, then reads each table's size
(``pg_total_relation_size``: heap, indexes and TOAST) and the write-ahead log the whole run
wrote. Prints a table and writes benchmarks/results/storage.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import zlib
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks.mix import Mix
from benchmarks.throwaway import throwaway
from events.commands import Command
from projections import maintenance
from projections.settings import ProjectorSettings
from services.ledger.catalog_file import load_catalog
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import REPO, Settings

BATCH = 500
PARTITIONS = 8


def store_all(settings: Settings, commands: list[Command]) -> int:
    """Decide and commit ``commands`` as the ledger would, a fetch of 500 at a time; returns
    the events stored."""
    store = LedgerStore(settings)
    try:
        ledger = Ledger(store, load_catalog(), max_message_bytes=65536)
        offsets = itertools.count()
        events = 0
        for start in range(0, len(commands), BATCH):
            records = [
                Incoming(
                    "commands",
                    zlib.crc32(c.account_id.encode()) % PARTITIONS,
                    next(offsets),
                    c.account_id.encode(),
                    c.model_dump_json().encode(),
                )
                for c in commands[start : start + BATCH]
            ]
            batch = ledger.decide_batch(records)
            ledger.commit(batch)
            events += len(batch.recorded)
        return events
    finally:
        store.close()


def sizes(settings: Settings) -> dict[str, dict[str, int]]:
    """Rows and total bytes of every table in the namespace's schema."""
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (settings.postgres_schema,)
        ).fetchall()
        found = {}
        for (table,) in tables:
            name = f"{settings.postgres_schema}.{table}"
            rows = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
            size = conn.execute("SELECT pg_total_relation_size(%s)", (name,)).fetchone()
            assert rows is not None and size is not None
            found[table] = {"rows": rows[0], "bytes": size[0]}
        return found


def wal_position(settings: Settings) -> int:
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert row is not None
        return int(row[0])


def run(args: argparse.Namespace) -> dict[str, Any]:
    mix = Mix(args.accounts)
    commands = [*mix.opening(), *mix.commands(args.commands)]
    with throwaway("postgres") as settings:
        wal_before = wal_position(settings)
        events = store_all(settings, commands)
        maintenance.rebuild(ProjectorSettings(**settings.model_dump()))
        wal_bytes = wal_position(settings) - wal_before  # the cluster's: keep it otherwise idle
        tables = sizes(settings)
    total = sum(t["bytes"] for t in tables.values())
    return {
        "accounts": args.accounts,
        "commands": len(commands),
        "events": events,
        "tables": tables,
        "bytes_per_command": round(total / len(commands)),
        "bytes_per_event": round(total / events),
        "wal_bytes_per_command": round(wal_bytes / len(commands)),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--commands", type=int, default=100_000)
    results = run(parser.parse_args())
    print(f"{'table':<28}{'rows':>10}{'MB':>10}{'bytes/row':>12}")
    for table, t in sorted(results["tables"].items(), key=lambda kv: -kv[1]["bytes"]):
        per_row = t["bytes"] // t["rows"] if t["rows"] else 0
        print(f"{table:<28}{t['rows']:>10}{t['bytes'] / 2**20:>10.1f}{per_row:>12}")
    for key in ("commands", "events", "bytes_per_command", "bytes_per_event"):
        print(f"{key:>28}: {results[key]}")
    print(f"{'wal_bytes_per_command':>28}: {results['wal_bytes_per_command']}")
    out = REPO / "benchmarks" / "results" / "storage.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
