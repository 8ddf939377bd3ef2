"""The finance report's benchmark, run small as a smoke check on both stores: it decides the
workload, stores every account's months and reads the report back; every account's line must
balance to the credit and the cent (the benchmark asserts it). Nothing here asserts a duration."""

from __future__ import annotations

import json
import subprocess
import sys

from services.settings import REPO


def test_the_finance_benchmark_runs_small_and_every_account_balances(backend, tmp_path):
    out = tmp_path / "finance.json"
    arguments = ["--store", backend, "--commands", "3000", "--accounts", "300", "--out", str(out)]
    arguments += ["--repeat", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.finance_report", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["accounts"] == 300 and results["lines"] == 300
    assert results["month_rows"] >= 300 and results["closing_cents"] > 0
