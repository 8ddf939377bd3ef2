"""The hot path's Python CPU, in one process and without Kafka: what the ledger spends per
command and the projector per event, measured as CPU time (``time.process_time``), which a
busy machine disturbs far less than the wall clock.

    .venv/bin/python -m benchmarks.hot_path [--store sqlite|postgres] [--commands 20000]
        [--accounts 1000] [--partitions 8] [--runs 3] [--out PATH] [--without-books]

The ledger: ``--commands`` commands (tests/workload.py) as Kafka records, each account's in
one of ``--partitions`` partitions as the commands topic has (so that a batch, like a fetch
of the running ledger, stores a position for each), in batches as large as the running
ledger's under a backlog (``ledger_batch_max_records``), each read, decided
(``Ledger.decide_batch``), its outcomes encoded as they are published, and committed
(``Ledger.commit``) against a fresh store, its accounts already cached (a first pass over
every account is not timed). The projector: the stored log read in pages, folded,
its balance messages built and encoded, and each page's rows committed (``Projector._step``
without the broker), each stage of a page timed apart (read, load the entries, fold, build
and encode the messages, save, remember) as µs an event. Each figure is the median of
``--runs`` fresh runs. Compare two commits by running this script in a worktree of each, side
by side.

On PostgreSQL the CPU of every ``postgres`` process over each of the two timed parts is
reported too (``postgres_cpu_us_per_command``, ``postgres_cpu_us_per_event``): the database's
share of the work, on the same two cores as the services in the end-to-end benchmark, which
the Python figures do not show. It counts the whole machine's PostgreSQL: run it on an idle one.

``--without-books`` is a counterfactual, for comparing like with like: the projector as if it
kept no finance books (no ``finance.fold`` and no months or days of use written, the row's
view without them), which is the work ``32cb04c``'s projector did (issue 26's baseline, from
before the finance read model). Nothing else changes; the product always keeps the books.
It patches the folds, so it runs them as Python (``KALEMA_NATIVE=0``): a compiled fold calls
its neighbours directly (``services/native.py``). Each result says which form ran (``native``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest import mock

import psutil

from benchmarks import report
from benchmarks.throwaway import throwaway
from events.encoding import json_of
from events.topics import COMMANDS
from projections import batch, finance, recorders
from projections.projector import Projector
from projections.settings import ProjectorSettings
from services import gc_tuning, native
from services.ledger.catalog_file import load_catalog
from services.ledger.intake import Incoming
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import REPO
from tests.workload import command_log

BATCH = ProjectorSettings().ledger_batch_max_records  # a backlog's batches, as the ledger's
STAGES = ("read", "entries", "fold", "messages", "save", "remember")  # of a projector's page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--partitions", type=int, default=COMMANDS.partitions)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="where to write the JSON")
    parser.add_argument(
        "--without-books", action="store_true", help="the projector as if it kept no books"
    )
    args = parser.parse_args()
    if args.without_books and native.compiled(finance):  # it patches the folds: as Python
        env = {**os.environ, "KALEMA_NATIVE": "0"}
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.hot_path", *sys.argv[1:]], env)
    with _without_books() if args.without_books else contextlib.nullcontext():
        runs = [_run(args) for _ in range(args.runs)]
    results = {
        "store": args.store,
        "books": not args.without_books,
        "native": native.compiled(finance),  # the core and the folds compiled (services/native.py)
        "commands": args.commands,
        "accounts": args.accounts,
        "partitions": args.partitions,
        "ledger_cpu_us_per_command": statistics.median(r["ledger_us"] for r in runs),
        "projector_cpu_us_per_event": statistics.median(r["projector_us"] for r in runs),
        "projector_cpu_us_per_command": statistics.median(r["projector_per_command"] for r in runs),
        "events_per_command": runs[0]["events_per_command"],
        **_postgres_medians(runs),
        "projector_stages_us_per_event": {
            stage: statistics.median(r["stages_us"][stage] for r in runs) for stage in STAGES
        },
        "runs": runs,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = args.out or REPO / "benchmarks" / "results" / f"hot-path-{args.store}.json"
    report.written(results, out)


@contextlib.contextmanager
def _without_books() -> Iterator[None]:
    """The projector, for as long as this lasts, folding and writing no finance books: each
    account's books stay empty, a page has no months or days of use to write, and the row's
    view carries none (nor reads any back)."""
    with (
        mock.patch.multiple(
            finance,
            fold=lambda books, event: books,
            dump=lambda books: None,
            load=lambda doc: finance.Books(),
        ),
        mock.patch.object(batch.Projected, "booked", lambda self, a, books, before: None),
        mock.patch.object(recorders, "_books", lambda periods, usage: ([], [])),
    ):
        yield


def _run(args: argparse.Namespace) -> dict[str, Any]:
    with throwaway(args.store, ProjectorSettings) as settings:
        records = workload_records(args.commands, args.accounts, args.partitions)
        store = LedgerStore(settings)
        try:
            ledger = Ledger(store, load_catalog(), max_message_bytes=settings.max_message_bytes)
            warm, timed = records[: args.accounts], records[args.accounts :]
            _decided(ledger, warm)
            gc.collect()
            database = postgres_cpu_s()  # before the clock: psutil's walk is not the ledger's
            began = time.process_time()
            _decided(ledger, timed)
            ledger_s = time.process_time() - began
            ledger_database_s = postgres_cpu_s() - database
        finally:
            store.close()
        projector = Projector(settings)
        try:
            database = postgres_cpu_s()
            events, projector_s, stages = _projected(projector)
            projector_database_s = postgres_cpu_s() - database
        finally:
            projector.close()
    database_us = {}
    if args.store == "postgres":
        database_us = {
            "postgres_cpu_us_per_command": round(ledger_database_s / len(timed) * 1e6, 1),
            "postgres_cpu_us_per_event": round(projector_database_s / events * 1e6, 1),
        }
    return {
        **database_us,
        "stages_us": {stage: round(stages[stage] / events * 1e6, 1) for stage in STAGES},
        "ledger_us": round(ledger_s / len(timed) * 1e6, 1),
        "projector_us": round(projector_s / events * 1e6, 1),
        "projector_per_command": round(projector_s / len(records) * 1e6, 1),
        "events_per_command": round(events / len(records), 2),
    }


def postgres_cpu_s() -> float:
    """CPU seconds (user and system) of every ``postgres`` process on the machine so far."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            with contextlib.suppress(psutil.Error):
                cpu = process.cpu_times()
                total += cpu.user + cpu.system
    return total


def _postgres_medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    """PostgreSQL's CPU a ledger command and a projected event, median of the runs (none on
    SQLite, which runs inside the process and is counted in its Python figures)."""
    names = ("postgres_cpu_us_per_command", "postgres_cpu_us_per_event")
    return {n: statistics.median(r[n] for r in runs) for n in names if n in runs[0]}


def workload_records(
    commands: int, accounts: int, partitions: int = COMMANDS.partitions
) -> list[Incoming]:
    """The workload's commands (``tests/workload.py``) as records of the commands topic's
    ``partitions``, each account's in one (by a hash of its id, as a keyed producer's are),
    numbered in each partition from 0."""
    offsets: Counter[int] = Counter()
    records = []
    for c in command_log(commands, accounts):
        key = c.account_id.encode()
        partition = zlib.crc32(key) % partitions
        offset, offsets[partition] = offsets[partition], offsets[partition] + 1
        records.append(Incoming("commands", partition, offset, key, c.model_dump_json().encode()))
    return records


def _decided(ledger: Ledger, records: Sequence[Incoming]) -> None:
    """Decide, encode the outcomes of, and commit ``records`` in the ledger's batches."""
    thaw = gc_tuning.Thaw()
    for n in range(0, len(records), BATCH):
        with gc_tuning.batch_survivors_frozen(thaw):  # decision to commit, as the consumer
            batch = ledger.decide_batch(records[n : n + BATCH])
            for message in [*batch.outcomes, *batch.dead_letters]:
                json_of(message)  # as the consumer publishes them
            ledger.commit(batch)
            del batch


def _projected(projector: Projector) -> tuple[int, float, dict[str, float]]:
    """Project the whole log page by page as ``Projector._step`` does, less the broker (and
    one page after another: folding ahead overlaps waits, not CPU): the events, the CPU
    seconds, and those seconds by stage."""
    events = 0
    stages = dict.fromkeys(STAGES, 0.0)
    gc.collect()
    began = time.process_time()
    thaw = gc_tuning.Thaw()
    while True:
        with gc_tuning.batch_survivors_frozen(thaw):  # over a page, as the projector does
            projected = _page(projector, stages)
        if not projected:
            break
        events += projected
    return events, time.process_time() - began, stages


def _page(projector: Projector, stages: dict[str, float]) -> int:
    """One page read, folded, its messages encoded and its rows committed: its events. Each
    stage's CPU seconds are added to ``stages``."""
    from events.balances import encoded
    from projections.batch import project

    clock = time.process_time
    began = clock()
    page = projector.reader.read(projector.position)
    if not page.items:
        return 0
    read = clock()
    loaded, _ = projector._entries(page)
    entries = clock()
    projected = project(loaded, [r for _, r in page.items], projector.rules)
    folded = clock()
    messages = projected.messages()
    for update in projected.published(messages):
        encoded(update)  # as Projector._publish encodes them
    for alert in projected.alerts:
        encoded(alert)
    built = clock()
    projector.model.save(
        [(entry, messages[a]) for a, entry in projected.entries.items()],
        projector.position,
        page.last_id,
        projected.quarantined,
        projected.history,
        projected.periods,
        projected.usage,
    )
    saved = clock()
    projector._remember(projected.entries.items())
    projector.position = page.last_id
    marks = (began, read, entries, folded, built, saved, clock())
    for stage, (start, end) in zip(STAGES, pairwise(marks), strict=True):
        stages[stage] += end - start
    return len(page.items)


if __name__ == "__main__":
    main()
