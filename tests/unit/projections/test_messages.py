"""The read-model messages on the wire: JSON both ways, frozen, and ordered by version."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from events.balances import BalanceAlert, BalanceUpdated, encoded
from tests.unit.core.scenario import bought, renewed, used
from tests.unit.projections.test_fold import folded


def test_a_balance_update_round_trips_through_json():
    update = folded(renewed("solo", 0), bought("small", at=1)).message()

    assert BalanceUpdated.model_validate_json(update.model_dump_json()) == update
    assert update.figures.total == 1980


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-01T00:00:00Z",
        "2026-11-01T10:20:30.000123Z",
        "2026-11-01T10:20:30.5+05:30",
        "2026-11-01T10:20:30-08:00",
    ],
)
def test_a_balance_update_is_encoded_as_pydantic_encodes_it(moment):
    update = folded(renewed("solo", 0), bought("small", at=1)).message()
    times = {"updated_at": moment, "cycle_end": moment, "subscription_expires_at": None}
    for changed in (update, update.model_validate(update.model_dump() | times)):
        assert encoded(changed) == changed.model_dump_json().encode()


def test_a_consumer_keeps_only_a_newer_version():
    older = folded(renewed("solo", 0)).message()
    newer = folded(renewed("solo", 0), used(at=1)).message()

    assert newer.supersedes(older) and newer.supersedes(None)
    assert not older.supersedes(newer) and not newer.supersedes(newer)


def test_messages_are_frozen_and_times_must_be_aware():
    update = folded(renewed("solo", 0)).message()

    with pytest.raises(ValidationError):
        update.total = 0  # type: ignore[misc]
    raw = update.model_dump(mode="json") | {"updated_at": "2026-11-01T00:00:00"}
    with pytest.raises(ValidationError):
        BalanceUpdated.model_validate(raw)


def test_an_alert_kind_is_one_of_three():
    fields = {
        "alert_id": "a:1:low_balance",
        "account_id": "a",
        "version": 1,
        "balance": {"subscription": 0, "purchased": 0, "granted": 0, "held": 0, "total": 0},
        "plan": None,
        "plan_credits": 0,
        "occurred_at": "2026-11-01T00:00:00Z",
    }

    assert BalanceAlert.model_validate(fields | {"kind": "depleted"}).kind == "depleted"
    with pytest.raises(ValidationError):
        BalanceAlert.model_validate(fields | {"kind": "rich"})
