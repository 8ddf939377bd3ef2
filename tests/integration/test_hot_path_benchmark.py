"""The hot path's CPU benchmarks, run small as smoke checks: the hot path on both stores (the
ledger decides and commits a small workload and the projector folds it, in one process), the
stored events' reading, the ledger's work after a commit and SQLite's own work for a page.
Nothing here asserts a duration."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.hot_path import BATCH
from events.topics import COMMANDS
from services.settings import REPO


def test_the_hot_path_benchmark_runs_small_and_reports_each_process_and_the_database(
    backend, tmp_path
):
    results = _hot_path(tmp_path, "--store", backend, "--commands", "600", "--accounts", "100")

    assert results["books"] is True
    assert results["partitions"] == COMMANDS.partitions  # a position a partition, as in a fetch
    assert results["ledger_cpu_us_per_command"] > 0
    assert results["projector_cpu_us_per_event"] > 0
    assert results["events_per_command"] > 0
    stages = results["projector_stages_us_per_event"]
    assert set(stages) == {"read", "entries", "fold", "messages", "save", "remember"}
    assert stages["fold"] > 0
    if backend == "postgres":  # the database's share, beside the Python figures (a small
        # run may take less than the kernel's 10 ms tick of PostgreSQL's CPU: not asserted > 0)
        assert isinstance(results["postgres_cpu_us_per_command"], float)
        assert isinstance(results["postgres_cpu_us_per_event"], float)
    else:
        assert "postgres_cpu_us_per_command" not in results


def test_the_hot_path_without_books_runs_small_and_says_it_kept_none(backend, tmp_path):
    results = _hot_path(
        tmp_path, "--store", backend, "--commands", "300", "--accounts", "50", "--without-books"
    )

    assert results["books"] is False
    assert results["projector_cpu_us_per_event"] > 0
    assert results["events_per_command"] > 0


def _hot_path(tmp_path, *arguments):
    """The hot-path benchmark's figures from one small run with ``arguments``."""
    return _bench(tmp_path, "hot-path", *arguments, "--runs", "1")


def test_the_event_reading_benchmark_runs_small_and_reports_both_readings(tmp_path):
    results = _bench(
        tmp_path, "event-reading", "--commands", "300", "--accounts", "30", "--passes", "1"
    )

    assert results["event_from_us_per_event"] > 0 and results["pydantic_us_per_event"] > 0
    assert sum(topic["events"] for topic in results["by_topic"].values()) == results["events"]


def test_the_ledger_edge_benchmark_runs_small_and_reports_each_step(tmp_path):
    results = _bench(
        tmp_path, "ledger-edge", "--commands", "600", "--accounts", "100", "--passes", "1"
    )

    assert results["commands"] == 600 and results["batches"] == -(-600 // BATCH)  # rounded up
    for step in ("checkpoints_unkeyed", "checkpoints_keyed", "metrics"):
        assert results[f"{step}_us_per_command"] > 0


def test_the_ledger_commit_benchmark_runs_small_and_reports_each_batch_size(backend, tmp_path):
    arguments = ["--store", backend, "--sizes", "5,20", "--batches", "3", "--rounds", "1"]
    results = _bench(tmp_path, "ledger-commit", *arguments)

    assert results["partitions"] == COMMANDS.partitions and set(results["by_size"]) == {"5", "20"}
    for size in results["by_size"].values():
        assert size["commit_wall_ms"] > 0 and size["commit_cpu_ms"] > 0
        assert ("postgres_cpu_ms" in size) == (backend == "postgres")


def test_the_sqlite_writes_benchmark_runs_small_and_reports_each_page_size(tmp_path):
    arguments = ["--accounts", "50", "--fill", "300", "--events", "400", "--pages", "50", "200"]
    results = _bench(tmp_path, "sqlite-writes", *arguments)

    assert [page["page_events"] for page in results["by_page"]] == [50, 200]
    for page in results["by_page"]:
        assert set(page["projector_us_per_event"]) == {"read", "write", "commit"}
        assert page["projector_write_and_commit_us_per_event"] > 0
        assert page["ledger_store_us_per_event"] > 0


def _bench(tmp_path, which, *arguments):
    """The figures of one small run of ``credits bench which`` with ``arguments``."""
    out = tmp_path / f"{which}.json"
    subprocess.run(
        [sys.executable, "-m", "services.cli", "bench", which, *arguments, "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return json.loads(out.read_text())
