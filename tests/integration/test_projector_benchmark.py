"""The projector's throughput benchmark, run small as a smoke check on both stores: it fills a
store, catches the projector up on the real broker and checks the balances topic read back.
Nothing here asserts a duration."""

from __future__ import annotations

import json
import subprocess
import sys

from services.settings import REPO


def test_the_projector_benchmark_runs_small_and_every_account_ends_at_its_version(
    backend, tmp_path
):
    out = tmp_path / "projector.json"
    arguments = ["--store", backend, "--commands", "2000", "--accounts", "200", "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.projector_throughput", *arguments],
        cwd=REPO,
        check=True,  # the benchmark asserts that every account's latest update has its version
        capture_output=True,
        timeout=300,
    )

    results = json.loads(out.read_text())
    assert results["accounts"] == 200 and results["events"] > 0
    assert 200 <= results["balances_published"] <= results["events"]
