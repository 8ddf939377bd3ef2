"""Finance's books: given events, then each month's purchased credits and their value
(opening + bought - consumed - refunded - forfeited = closing), subscription and granted
credits by what happened to them, and the day's usage by tool."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given as hypothesis_given
from hypothesis import settings

from events.commands import Command
from events.ledger import LedgerEvent, PackagePurchased, ToolUsed
from projections import finance
from projections.balance import BalanceView
from projections.balance import dump as dump_view
from projections.finance import Books
from projections.finance_report import report
from services.ledger.core import balance, replay
from tests.unit.core.scenario import (
    ACCOUNT,
    bought,
    charged_back,
    dispute_won,
    granted,
    partly_refunded,
    refunded_package,
    refunded_use,
    released,
    renewed,
    reserved,
    settled,
    used,
)
from tests.unit.core.test_properties import commands_from, history
from tests.unit.projections.history import decided


def events_of(*commands: Command) -> list[LedgerEvent]:
    return [r.event for _, recorded in decided(commands) for r in recorded]


def books_after(events: list[LedgerEvent], books: Books | None = None) -> Books:
    books = books or Books()
    for event in events:
        books = finance.fold(books, event)
    return books


def period_after(*commands: Command) -> finance.Period:
    period = books_after(events_of(*commands)).period
    assert period is not None and period.balanced
    return period


def test_a_bought_package_is_owed_in_full_until_used():
    period = period_after(bought("small", at=0))

    assert (period.bought, period.bought_cents) == (1000, 5000)
    assert (period.closing, period.closing_cents) == (1000, 5000)


def test_a_use_paid_by_a_package_recognises_revenue_at_the_lots_price():
    period = period_after(bought("small", at=0), used("article_generation", 2, at=1))

    assert (period.consumed, period.consumed_cents) == (100, 500)
    assert (period.closing, period.closing_cents) == (900, 4500)


def test_subscription_credits_are_used_first_and_recognise_no_package_revenue():
    period = period_after(renewed("solo", 0), bought("small", at=0), used(at=1))

    assert period.consumed == 0
    assert dict(period.subscription) == {"solo": (980, 50, 0)}


def test_a_refunded_use_gives_its_revenue_back():
    commands = [bought("small", at=0), used(at=1, command_id="use-1"), refunded_use("use-1")]

    period = period_after(*commands)

    assert (period.consumed, period.consumed_cents) == (0, 0)
    assert (period.closing, period.closing_cents) == (1000, 5000)


def test_a_refunded_package_takes_what_is_left_of_it_and_its_value():
    commands = [bought("small", at=0, payment_ref="p1"), used(at=1), refunded_package("p1")]

    period = period_after(*commands)

    assert (period.refunded, period.refunded_cents) == (950, 4750)
    assert (period.closing, period.closing_cents) == (0, 0)


def test_a_partial_refund_takes_its_share_of_the_package_off_the_books_not_nothing():
    commands = [bought("small", at=0, payment_ref="p1"), partly_refunded("p1", 1234)]

    period = period_after(*commands)

    assert (period.refunded, period.closing) == (246, 754)
    assert period.closing_cents + period.refunded_cents == 5000


def test_a_won_dispute_puts_the_charged_back_credits_and_their_value_back():
    commands = [bought("small", at=0, payment_ref="p1"), charged_back("p1"), dispute_won("p1")]

    period = period_after(*commands)

    assert (period.refunded, period.refunded_cents) == (0, 0)
    assert (period.closing, period.closing_cents) == (1000, 5000)


def test_held_credits_of_a_refunded_package_go_with_the_refund_when_released():
    commands = [
        bought("small", at=0, payment_ref="p1"),
        reserved(credits=100, at=1),
        refunded_package("p1", at=1.2),
        released(at=1.5),
    ]

    period = period_after(*commands)

    assert (period.refunded, period.refunded_cents) == (1000, 5000)
    assert period.closing == 0


def test_a_settled_hold_consumes_what_it_settles_at():
    commands = [bought("small", at=0), reserved(credits=100, at=1), settled(credits=60, at=1.5)]

    period = period_after(*commands)

    assert (period.consumed, period.consumed_cents) == (60, 300)
    assert period.closing == 940


def test_fractional_cents_are_recognised_as_they_accrue_and_sum_to_the_lots_price():
    at = datetime(2026, 11, 1, tzinfo=UTC)
    lot = PackagePurchased(
        command_id="c0",
        occurred_at=at,
        lot_id="lot-1",
        package="odd",
        credits=3,
        price_cents=1000,
        currency="USD",
        payment_ref="p",
        catalog_version=1,
    )
    uses = [
        ToolUsed(
            command_id=f"c{n}",
            occurred_at=at,
            tool="keyword_suggestions",
            units=1,
            unit_cost_credits=1,
            catalog_version=1,
            credits=1,
            draws=({"lot_id": "lot-1", "kind": "purchased", "credits": 1},),  # type: ignore[arg-type]
        )
        for n in (1, 2, 3)
    ]

    recognised = []
    books = books_after([lot])
    for use in uses:
        books = finance.fold(books, use)
        assert books.period is not None
        recognised.append(books.period.consumed_cents)

    assert recognised == [333, 666, 1000]


def test_expired_granted_credits_are_counted_as_expired():
    period = period_after(granted(100, expires=3, at=0), used("meta_description", at=1), used(at=4))

    assert period.granted == (100, 2, 98)


def test_a_new_month_opens_at_the_last_months_closing_and_leaves_it_as_it_was():
    november = books_after(events_of(bought("small", at=0), used(at=1)))
    before = november.period

    december = books_after(events_of(used(at=35)), november)

    assert december.period is not None and december.period.month == "2026-12"
    assert (december.period.opening, december.period.opening_cents) == (950, 4750)
    assert before is not None and before.month == "2026-11" and before.closing == 950


def test_the_days_usage_is_counted_by_tool_and_starts_again_each_day():
    books = books_after(events_of(bought("small", at=0), used(at=1), used(at=1), used(at=2.1)))

    assert (books.day, dict(books.today)) == ("2026-11-03", {"article_generation": (1, 50)})


def test_the_books_read_back_as_they_were_written():
    books = books_after(events_of(renewed("solo", 0), bought("small", at=0), used(at=1)))
    view = BalanceView(ACCOUNT, updated_at=datetime(2026, 1, 1, tzinfo=UTC))

    written = orjson.loads(dump_view(view, finance.dump(books)))["books"]

    assert finance.load(written) == books


def test_books_written_with_the_period_as_an_object_read_back_the_same():
    books = books_after(events_of(renewed("solo", 0), bought("small", at=0), used(at=1)))
    assert books.period is not None
    period = books.period._asdict() | {"granted": list(books.period.granted)}
    period["subscription"] = {k: list(v) for k, v in books.period.subscription.items()}
    lots = {k: list(v) for k, v in books.lots.items()}
    today = {k: list(v) for k, v in books.today.items()}
    written = {"lots": lots, "plans": dict(books.plans), "period": period, "day": books.day}

    assert finance.load(written | {"today": today}) == books


@settings(max_examples=60, deadline=None)
@hypothesis_given(history)
def test_in_any_history_each_month_balances_and_the_closing_is_the_ledgers_purchased_credits(
    steps,
):
    events = events_of(*commands_from(steps))
    books, state = Books(), None
    for event in events:
        books = finance.fold(books, event)
        state = replay([event], state)
        period = books.period
        assert period is not None and period.balanced
        held = sum(
            d.credits for h in state.holds.values() for d in h.draws if d.kind == "purchased"
        )
        assert period.closing == balance(state).purchased + held


@settings(max_examples=60, deadline=None)
@hypothesis_given(history)
def test_in_any_history_a_use_folds_into_the_books_its_moves_counted_one_by_one_make(steps):
    books = Books()
    for event in events_of(*commands_from(steps)):
        if isinstance(event, ToolUsed):
            period, day = finance.opened(books, event)
            by_moves = finance.moved(books, event, period, day)
            assert finance.used(books, event, period, day) == by_moves
            assert dump_view(BalanceView(ACCOUNT), finance.dump(by_moves)) == dump_view(
                BalanceView(ACCOUNT), finance.dump(finance.fold(books, event))
            )
        books = finance.fold(books, event)


def months_of(*commands: Command) -> list[tuple[str, finance.Period]]:
    """Every month's row as the projector stores it: the latest figures of each month."""
    books, rows = Books(), {}
    for event in events_of(*commands):
        books = finance.fold(books, event)
        assert books.period is not None
        rows[books.period.month] = books.period
    return [("acct-1", period) for _, period in sorted(rows.items())]


def test_a_report_over_two_months_opens_at_the_first_and_closes_at_the_last():
    rows = months_of(bought("small", at=0), used(at=1), used(at=31), used(at=62))

    got = report(rows, "2026-11", "2026-12")

    [line] = got.lines
    assert (line.opening, line.bought, line.consumed, line.closing) == (0, 1000, 100, 900)
    assert (line.bought_cents, line.consumed_cents, line.closing_cents) == (5000, 500, 4500)
    assert line.balanced and got.total.balanced and got.total.closing == 900


def test_an_account_quiet_in_the_period_is_listed_unchanged_while_it_still_owes_credits():
    rows = months_of(bought("small", at=0), used(at=1))

    [line] = report(rows, "2027-01", "2027-01").lines

    assert (line.opening, line.consumed, line.closing, line.closing_cents) == (950, 0, 950, 4750)


def test_a_later_month_leaves_the_report_of_an_earlier_one_as_it_was():
    early = report(months_of(bought("small", at=0), used(at=1)), "2026-11", "2026-11")

    later = months_of(bought("small", at=0), used(at=1), used(at=31), refunded_use("x", at=32))

    assert report(later, "2026-11", "2026-11") == early
