"""The clock's schedule: what falls due when, read from an account the way ``catch_up`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from immutables import Map

from services.clock.schedule import Schedule, command_id, expiry, next_due
from services.ledger.core import Account
from services.ledger.core.state import Hold, Lot

T = datetime(2026, 12, 1, tzinfo=UTC)


def account(*lots: Lot, holds: tuple[Hold, ...] = ()) -> Account:
    return Account(
        opened=True,
        lots=Map({lot.lot_id: lot for lot in lots}),
        holds=Map({hold.hold_id: hold for hold in holds}),
    )


def lot(lot_id: str, remaining: int, expires_at: datetime | None, status: str = "open") -> Lot:
    return Lot(lot_id, "subscription", 980, remaining, expires_at, 1, status)  # type: ignore[arg-type]


def test_an_account_is_due_when_its_earliest_open_lot_with_credits_or_open_hold_expires():
    hold = Hold("h1", "article_generation", 50, (), T + timedelta(hours=1))
    assert (
        next_due(account(lot("cycle", 930, T + timedelta(days=2)), holds=(hold,)))
        == hold.expires_at
    )
    assert next_due(account(lot("cycle", 930, T), lot("grant", 5, T + timedelta(days=1)))) == T


def test_nothing_is_due_for_purchased_credits_spent_lots_or_closed_holds():
    closed = Hold("h1", "article_generation", 50, (), T, status="settled")
    assert (
        next_due(account(lot("package", 1000, None), lot("cycle", 0, T), holds=(closed,))) is None
    )
    assert next_due(account(lot("cycle", 10, T, status="expired"))) is None


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
