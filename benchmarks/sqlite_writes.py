"""What the read model's writes cost SQLite itself, by the size of the transaction that carries
them (issue 26). On SQLite the projector runs the database in its own process, so SQLite's
work is its CPU: about as much, end to end, as building the rows it writes.

    .venv/bin/python -m benchmarks.sqlite_writes [--accounts 10000] [--pages 1000 4400 10000]
        [--fill 300000] [--events 132000] [--view-bytes 1300] [--key-order]

A throwaway database in WAL mode, as the store opens one, holds the ledger's events table (as
the ``eventsourcing`` library creates it, about 1 KB a row) and the read model's balances and
history tables (``projections.recorders``' own statements). ``--fill`` events are stored
first, so that the tables are as large as after a run. Then, for each page size, a ledger
connection stores a page of events (accounts drawn at random) in one transaction, and a
projector connection reads them by position, upserts a balance row per account of the page (a
view of ``--view-bytes``) and adds a history line per event, in one transaction and then its
commit, the work a projector's page asks of SQLite. The rows are built before the clock
starts (their cost is the hot path's, ``benchmarks.hot_path``). ``--key-order`` writes each
table's rows in its key's order.

Prints process CPU per event for each step and writes benchmarks/results/sqlite-writes.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections import recorders
from services.settings import REPO

EVENTS_TABLE = (
    "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
    "state BLOB, PRIMARY KEY (originator_id, originator_version))"
)
READ_LOG = (
    "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
    "WHERE rowid > ? ORDER BY rowid LIMIT ?"
)
STATE = b"sha256:" + b"0" * 64 + b"\n" + b'{"type":"ToolUsed","padding":"' + b"e" * 900 + b'"}'
AT = "2026-11-02T10:00:00.123456+00:00"
CYCLE_END = "2026-12-01T00:00:00+00:00"


def _sql(template: str) -> str:
    return template.format(table="balances", history="history", time="TEXT", position="INTEGER")


class _Tables:
    """The ledger's and the projector's connections to one database, and the accounts."""

    def __init__(self, path: Path, args: argparse.Namespace) -> None:
        self.ledger, self.projector = _connect(path), _connect(path)
        self.ledger.execute(EVENTS_TABLE)
        self.ledger.execute(_sql(recorders.CREATE))
        self.ledger.execute(_sql(recorders.CREATE_HISTORY))
        self.accounts = [f"acct-{n:06d}" for n in range(args.accounts)]
        self.versions = dict.fromkeys(self.accounts, 0)
        self.view = '{"view":"' + "v" * max(0, args.view_bytes - 11) + '"}'
        self.key_order = args.key_order
        self.random = random.Random(26)
        self.position = 0

    def page(self, size: int) -> dict[str, float]:
        """Store a page of ``size`` events, then project it: each step's process CPU."""
        events = []
        for account_id in self.random.choices(self.accounts, k=size):
            self.versions[account_id] += 1
            events.append((account_id, self.versions[account_id], "ToolUsed", STATE))
        began = time.process_time()
        _write(self.ledger, "INSERT INTO stored_events VALUES (?, ?, ?, ?)", events)
        stored = time.process_time()
        self.projector.execute("BEGIN")
        read = self.projector.execute(READ_LOG, (self.position, size)).fetchall()
        self.projector.execute("COMMIT")
        self.position = read[-1][0]
        done_reading = time.process_time()
        rows = list({a: self._balance(a, v) for _, a, v, _, _ in read}.values())
        lines = [_line(n, a, v) for n, a, v, _, _ in read]
        if self.key_order:
            rows.sort()
            lines.sort()
        began_writing = time.process_time()
        self.projector.execute("BEGIN IMMEDIATE")
        self.projector.executemany(_sql(recorders.UPSERT), rows)
        self.projector.executemany(_sql(recorders.ADD_HISTORY), lines)
        written = time.process_time()
        self.projector.execute("COMMIT")
        committed = time.process_time()
        return {
            "ledger_store": stored - began,
            "read": done_reading - stored,
            "write": written - began_writing,
            "commit": committed - written,
            "rows": len(rows),
        }

    def close(self) -> None:
        self.ledger.close()
        self.projector.close()

    def _balance(self, account_id: str, version: int) -> tuple[Any, ...]:
        figures = (900, 100, 0, 0, 1000, 980)
        return (account_id, version, *figures, "solo", "monthly", None, CYCLE_END, CYCLE_END, AT,
                self.view, '{"low_balance":false}')  # fmt: skip


def _line(position: int, account_id: str, version: int) -> tuple[Any, ...]:
    changes, balances = (-5, 0, 0, 0), (895, 100, 0, 0, 995)
    return (position, account_id, version, AT, f"c-{account_id}-{version}", "ToolUsed", "tool",
            "", *changes, *balances)  # fmt: skip


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def _write(connection: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany(statement, rows)
    connection.execute("COMMIT")


def measure(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Each step's CPU per event, with pages of ``size`` events, in a database of its own."""
    with tempfile.TemporaryDirectory() as directory:
        tables = _Tables(Path(directory) / "ledger.sqlite", args)
        try:
            for start in range(0, args.fill, 5000):
                tables.page(min(5000, args.fill - start))
            pages = [tables.page(size) for _ in range(max(3, args.events // size))]
        finally:
            tables.close()
    events = size * len(pages)

    def us(step: str) -> float:
        return round(sum(p[step] for p in pages) / events * 1e6, 2)

    projector = {step: us(step) for step in ("read", "write", "commit")}
    return {
        "page_events": size,
        "pages": len(pages),
        "balance_rows_per_event": round(sum(p["rows"] for p in pages) / events, 2),
        "projector_us_per_event": projector,
        "projector_write_and_commit_us_per_event": round(
            projector["write"] + projector["commit"], 2
        ),
        "ledger_store_us_per_event": us("ledger_store"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "accounts": args.accounts,
        "fill": args.fill,
        "view_bytes": args.view_bytes,
        "key_order": args.key_order,
        "sqlite": sqlite3.sqlite_version,
        "by_page": [measure(args, size) for size in args.pages],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--pages", type=int, nargs="+", default=[1000, 4400, 10000])
    parser.add_argument("--fill", type=int, default=300_000, help="events stored first")
    parser.add_argument("--events", type=int, default=132_000, help="events measured a size")
    parser.add_argument("--view-bytes", type=int, default=1300)
    parser.add_argument("--key-order", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/sqlite-writes.json")
    args = parser.parse_args()
    results = run(args)
    print(f"{'page (events)':>14} {'read':>6} {'write':>6} {'commit':>7} {'ledger':>7}  µs/event")
    for page in results["by_page"]:
        p = page["projector_us_per_event"]
        print(f"{page['page_events']:>14} {p['read']:>6} {p['write']:>6} {p['commit']:>7} "
              f"{page['ledger_store_us_per_event']:>7}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
