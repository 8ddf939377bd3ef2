"""The top-up fault run, short: 40 accounts spend across their auto top-up thresholds while a
ledger and both top-up processes are SIGKILLed, and every payment webhook is delivered twice.
Every crossing is asked once, charged once and buys one package; none is missed."""

from __future__ import annotations

import json

import pytest

from reliability.top_up_faults import run


@pytest.mark.parametrize("backend", ["postgres"])
async def test_every_crossing_is_charged_exactly_once_through_kills_and_redelivered_webhooks(
    store_settings, tmp_path
):
    report = await run(store_settings, 40, 12, tmp_path)
    print(json.dumps(report, indent=2))

    assert report["crossings_asked"] > 40, report  # every account crossed, some again
    assert (report["double_charges"], report["asked_twice_for_one_crossing"]) == (0, 0), report
    assert report["missed_crossings"] == 0, report
    assert report["requests_without_a_package"] == report["requests_not_charged"] == [], report
    assert report["charges"] == report["packages"] == report["crossings_asked"], report
    assert report["webhooks_redelivered"] == report["charges"], report
    assert [f["fault"] for f in report["faults"]] == [
        "kill_ledger",
        "kill_top_up",
        "kill_top_up",
        "kill_ledger",
    ]
