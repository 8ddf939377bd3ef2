"""What reading a stored event costs: ``upcasting.event_from`` on every event of the workload's
stored log, against pydantic's reading alone (``LEDGER_EVENTS.validate_json``, which is what
``event_from`` did for a current topic before the fast reading), in one process, no Kafka.

    .venv/bin/python -m benchmarks.event_reading [--commands 20000] [--accounts 1000]
        [--passes 7] [--out PATH]

The log is decided as ``benchmarks.hot_path`` decides it, on a throwaway SQLite store, and read
back as stored (topic, payload) pairs; each pass times one reading of every pair with
``time.perf_counter``, the collector paused as the store pauses it. Printed: the median pass
in µs per event, overall and per event type, and how many of each type the log holds; the
same written to benchmarks/results/event-reading.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.hot_path import _decided, workload_records
from benchmarks.throwaway import throwaway
from events.ledger import LEDGER_EVENTS
from services.ledger import upcasting
from services.ledger.catalog_file import load_catalog
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.ledger.upcasting import unseal
from services.settings import REPO, Settings

Stored = tuple[str, bytes]  # topic, payload


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    args = parser.parse_args()
    stored = stored_log(args.commands, args.accounts)
    readers: dict[str, Callable[[str, bytes], Any]] = {
        "event_from": upcasting.event_from,
        "pydantic": lambda _topic, payload: LEDGER_EVENTS.validate_json(payload),
    }
    print(f"{len(stored)} events: {dict(Counter(topic for topic, _ in stored).most_common())}")
    overall = median_us(stored, readers, args.passes)
    for name in readers:
        print(f"{name}: {overall[name]:.2f} µs an event (median pass)")
    by_topic: dict[str, list[Stored]] = defaultdict(list)
    for topic, payload in stored:
        by_topic[topic].append((topic, payload))
    topics: dict[str, dict[str, Any]] = {}
    for topic, events in sorted(by_topic.items(), key=lambda item: -len(item[1])):
        figures = median_us(events, readers, args.passes)
        print(
            f"  {topic} ({len(events)}): " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items())
        )
        topics[topic] = {"events": len(events)} | {k: round(v, 2) for k, v in figures.items()}
    results = {
        "events": len(stored),
        **{f"{name}_us_per_event": round(us, 2) for name, us in overall.items()},
        "passes": args.passes,
        "by_topic": topics,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = args.out or REPO / "benchmarks" / "results" / "event-reading.json"
    report.written(results, out)


def stored_log(commands: int, accounts: int) -> list[Stored]:
    """The workload's events as the store holds them: (topic, payload), in log order."""
    with throwaway("sqlite", Settings) as settings:
        records = workload_records(commands, accounts)
        store = LedgerStore(settings)
        try:
            _decided(Ledger(store, load_catalog(), max_message_bytes=1 << 20), records)
            rows, after = [], 0
            while page := store.log_rows(after, 5000):
                rows += page
                after = page[-1][0]
        finally:
            store.close()
    return [(topic, unseal(state)[1]) for _, _, _, topic, state in rows]


def median_us(
    stored: Sequence[Stored], readers: dict[str, Callable[[str, bytes], Any]], passes: int
) -> dict[str, float]:
    """Each reader's median of ``passes`` timed readings of every event, in µs an event (the
    readers take turns in each pass, so a busy moment of the machine falls on them alike)."""
    times: dict[str, list[float]] = {name: [] for name in readers}
    gc.collect()
    gc.disable()
    try:
        for _ in range(passes):
            for name, read in readers.items():
                began = time.perf_counter()
                for topic, payload in stored:
                    read(topic, payload)
                times[name].append(time.perf_counter() - began)
    finally:
        gc.enable()
    return {name: statistics.median(t) / len(stored) * 1e6 for name, t in times.items()}


if __name__ == "__main__":
    main()
