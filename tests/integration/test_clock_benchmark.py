"""The clock's schedule benchmark, run small as a smoke check on both stores: every account it
wrote is scheduled by the whole read and by the paged read alike. Nothing here asserts a
duration."""

from __future__ import annotations

from benchmarks import clock_schedule


def test_the_clock_schedule_benchmark_runs_small_and_schedules_every_account(backend, tmp_path):
    out = tmp_path / "clock_schedule.json"

    results = clock_schedule.main(
        ["--store", backend, "--accounts", "250", "--page-rows", "100", "--out", str(out)]
    )

    assert (results["accounts"], results["pages"]) == (250, 3)
    assert results["scheduled"] == results["scheduled_by_whole_read"] == 250
    assert out.exists()
