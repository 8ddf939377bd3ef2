"""The clock's schedule: what falls due when, read from an account the way ``catch_up`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.clock.schedule import Schedule, command_id, expiry, next_due
from tests.unit.core.scenario import bought, day, given, granted, renewed, reserved, used

T = datetime(2026, 12, 1, tzinfo=UTC)


def test_an_account_is_due_when_its_earliest_lot_ends_or_hold_expires():
    assert next_due(given(renewed("solo", 0), reserved(at=1, expires=1.5))) == day(1.5)
    assert next_due(given(renewed("solo", 0), granted(5, expires=20))) == day(20)
    assert next_due(given(renewed("solo", 0))) == day(30)


def test_nothing_is_due_for_purchased_credits_alone():
    assert next_due(given(bought("small"))) is None
    assert next_due(given(renewed("solo", 0), bought("small"), used(at=31))) is None


def test_an_early_renewal_is_due_when_it_starts_and_ends_the_old_cycle():
    assert next_due(given(renewed("solo", 0), renewed("solo", 29, at=20))) == day(29)
    assert next_due(given(bought("small"), renewed("solo", 5, at=1))) == day(5)


def test_the_command_for_an_instant_is_the_same_every_time_and_fits_an_identifier():
    assert expiry("acct-1", T) == expiry("acct-1", T)
    assert command_id("acct-1", T) == "clock:20261201T000000.000000Z:acct-1"
    assert command_id("acct-1", T) != command_id("acct-1", T + timedelta(microseconds=1))
    long = command_id("a" * 128, T)
    assert len(long) <= 128 and long == command_id("a" * 128, T)
    assert expiry("acct-1", T).occurred_at == T


def test_the_schedule_hands_out_due_accounts_once_earliest_first_and_follows_changes():
    schedule = Schedule()
    schedule.set("b", T + timedelta(seconds=2))
    schedule.set("a", T + timedelta(seconds=1))
    schedule.set("c", T + timedelta(seconds=3))
    schedule.set("c", T + timedelta(seconds=9))  # moved on: the old instant is forgotten
    schedule.set("b", None)  # nothing due any more
    assert schedule.next_instant() == T + timedelta(seconds=1)
    assert schedule.backlog(T + timedelta(seconds=5)) == 1
    assert schedule.pop_due(T + timedelta(seconds=5)) == [("a", T + timedelta(seconds=1))]
    assert schedule.pop_due(T + timedelta(seconds=5)) == []
    assert schedule.pop_due(T + timedelta(seconds=9)) == [("c", T + timedelta(seconds=9))]
    assert len(schedule) == 0 and schedule.next_instant() is None


def test_make_run_starts_the_clock_with_everything_else():
    from services.run import PROCESSES

    assert PROCESSES["clock"][-2:] == ["-m", "services.clock"]
    assert {"ledger", "projector", "api", "clock"} <= set(PROCESSES)
