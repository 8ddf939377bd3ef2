"""The end-to-end benchmark as a CI smoke check (issue 15): tiny numbers on the real broker,
ledger and projector as their own processes, on both stores. It asserts that the run
completed, that every count adds up and that the JSON was written: never a duration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services import native
from services.settings import REPO

SMALL = {
    "--accounts": 100,
    "--commands": 2000,
    "--producers": 2,
    "--rate": 200,
    "--seconds": 2,
    "--naive-commands": 300,
    "--stall-seconds": 30,
}


def ran(argv: list[str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)


def test_a_small_end_to_end_run_answers_every_command_and_writes_its_figures(
    backend: str, tmp_path: Path
):
    out = tmp_path / "end_to_end.json"
    args = [f"{flag}={value}" for flag, value in SMALL.items()]
    finished = ran(
        [
            sys.executable,
            "-m",
            "services.cli",
            "bench",
            "end-to-end",
            f"--store={backend}",
            f"--out={out}",
            *args,
        ]
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    [run] = json.loads(out.read_text())
    assert run["store"] == backend and run["lost"] == {}
    assert run["setup"]["accounts"] == 100
    throughput = run["throughput"]
    assert throughput["commands"] == 2000
    # Every retry is answered as a repeat; a record the broker redelivers after a rebalance
    # (a consumer group still settling while the producers send) is answered as one too, so
    # there may be more repeats than retries. Taking effect twice is what must never happen,
    # and ``lost`` above counts that (second_effects).
    assert throughput["retries_answered_as_repeats"] >= throughput["retries_sent"] > 0
    assert throughput["commands_per_s_to_last_balance"] > 0
    latency = run["latency"]
    assert latency["commands"] == latency["send_to_outcome"]["measured"] == 400
    assert latency["send_to_balance"]["measured"] == 400
    assert run["references"]["naive_eventsourcing"]["commands"] == 300
    assert run["references"]["kafka_ceiling"]["commands"] == 2000
    assert run["references"]["kafka_ceiling"]["replies_missing"] == 0
    assert set(run["ratios"]) == {"ours_to_kafka_ceiling", "ours_to_naive_eventsourcing"}
    assert {"ledger 1", "projector", "harness"} <= set(run["resources"])
    assert run["native"] is native.available()  # which form the figures are of
    if backend == "postgres":  # its backends found by our processes' connections
        assert run["resources"]["postgres backends"]["cpu_s"] > 0
    for name in ("ledger 1", "projector"):  # what a command cost in each phase, apart
        per_command = run["resources"][name]["cpu_us_per_command_by_phase"]
        assert set(per_command) == {"set-up", "throughput", "latency"}


def test_a_run_whose_commands_get_no_outcome_fails_loudly(tmp_path: Path):
    out = tmp_path / "end_to_end.json"
    finished = ran(
        [
            sys.executable,
            "-m",
            "benchmarks.end_to_end",
            "--store=sqlite",
            "--ledgers=0",
            "--accounts=10",
            "--commands=50",
            "--rate=50",
            "--seconds=1",
            "--stall-seconds=2",
            "--no-ceiling",
            "--no-naive",
            f"--out={out}",
        ],
        timeout_s=120,
    )

    assert finished.returncode == 1 and "LOST WORK" in finished.stderr
    [run] = json.loads(out.read_text())
    assert run["lost"]["throughput"]["outcomes_missing"] == 50
    assert run["lost"]["latency"]["outcomes_missing"] == 50


def test_a_latency_phase_at_a_share_of_the_measured_capacity_paces_at_that_share(tmp_path: Path):
    out = tmp_path / "end_to_end.json"
    small = SMALL | {"--rate-of-capacity": 0.1, "--seconds": 1}
    finished = ran(
        [
            *(sys.executable, "-m", "benchmarks.end_to_end", "--store=sqlite"),
            *(f"{flag}={value}" for flag, value in small.items() if flag != "--rate"),
            *("--no-ceiling", "--no-naive", f"--out={out}"),
        ]
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    [run] = json.loads(out.read_text())
    capacity = run["throughput"]["commands"] / run["throughput"]["seconds_to_last_balance"]
    latency = run["latency"]
    assert latency["rate_of_capacity"] == 0.1
    assert abs(latency["rate_per_s"] - 0.1 * capacity) <= 0.01 * capacity + 1
    assert latency["commands"] == latency["send_to_balance"]["measured"] == latency["rate_per_s"]
