"""The fault run, short (CI): 3,000 commands over 300 accounts through two ledger processes and
two projectors on PostgreSQL, while a ledger and then the active projector are killed with
SIGKILL. The shared broker and database are never restarted here; the full run
(``python -m reliability.faults``) does that on private ones. Afterwards every account's
events equal the pure core's answer from the commands topic, and the balances topic's latest
record per account equals the read model, which equals the core's replay."""

from __future__ import annotations

import pytest

from reliability.faults import run

SCHEDULE = [(0.25, "kill_ledger"), (0.75, "kill_projector")]


@pytest.mark.parametrize("backend", ["postgres"])
async def test_killing_a_ledger_and_the_active_projector_loses_nothing_and_repeats_nothing(
    store_settings, tmp_path
):
    report = await run(store_settings, 3_000, 300, SCHEDULE, None, None, tmp_path, rate=200)

    assert report["commands_in_the_log"] == 3_000
    assert (report["lost"], report["applied_twice"], report["different"]) == (0, 0, 0), report
    assert report["accounts_equal_to_the_core"] == 300
    assert (report["stuck"], report["stale"], report["missing_on_the_topic"]) == (0, 0, 0)
    assert report["read_model_differences_from_the_core"] == []
    assert report["unanswered_commands"] == 0
    assert [f["fault"] for f in report["faults"]] == ["kill_ledger", "kill_projector"]
    assert all(f["recovered_s"] is not None for f in report["faults"]), report["faults"]
    assert report["unexpected_exits"] == []
