"""The live-streams benchmark as a CI smoke check: a few hundred balance and alert streams on
one API process, commands spread over them, on the real broker and both stores. It asserts
that every stream opened, that every accepted command's balance reached a stream and that the
JSON was written: never a duration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.settings import REPO


def test_a_small_live_streams_run_opens_every_stream_and_delivers_every_balance(
    backend: str, tmp_path: Path
):
    out = tmp_path / "live_streams.json"
    finished = subprocess.run(
        [
            *(sys.executable, "-m", "services.cli", "bench", "live-streams"),
            *(f"--store={backend}", f"--out={out}", "--streams=200", "--rate=40"),
            *("--seconds=5", "--of=both"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    run = json.loads(out.read_text())
    assert run["store"] == backend
    assert (run["opened"]["streams"], run["opened"]["refused"]) == (200, 0)
    assert (run["alerts_opened"]["streams"], run["alerts_opened"]["refused"]) == (200, 0)
    assert run["send_to_stream"]["measured"] > 0
    assert (run["balances_missing"], run["streams_ended_early"]) == (0, 0)
    assert "api" in run["resources"]
