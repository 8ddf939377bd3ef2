"""The finance tables written with a page, one test body over SQLite and PostgreSQL: a small
page's months and usage as statements, a large one's (PostgreSQL: COPY) the same, a month or
day written again is replaced, not added, and an account's latest month and day are read from
its row's books."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.balance import BalanceView
from projections.batch import Entry
from projections.finance import Books, Period
from projections.recorders import SMALL_PAGE
from projections.store import open_read_model
from services.ledger.core import Account
from tests.integration.conftest_projections import projector_settings


def _page(accounts: int, credits: int):
    periods = {
        (f"acct-{n:04d}", "2026-11"): Period(
            "2026-11", bought=credits, bought_cents=5 * credits, closing=credits,
            closing_cents=5 * credits, subscription={"solo": (980, n, 0)}, granted=(n, 0, 0),
        )
        for n in range(accounts)
    }  # fmt: skip
    usage = {(f"acct-{n:04d}", "2026-11-02"): {"seo_audit": (n, credits)} for n in range(accounts)}
    return periods, usage


@pytest.mark.parametrize("accounts", [3, SMALL_PAGE + 50])
def test_a_pages_months_and_usage_are_written_and_written_again_replace_them(
    store_settings, accounts
):
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        view = BalanceView("acct-0000", Account(version=1), datetime(2026, 11, 2, tzinfo=UTC))
        stored = [(Entry(view), view.message())]
        model.save(stored, 0, 1, None, [], *_page(accounts, 10))
        periods, usage = _page(accounts, 20)
        model.save(stored, 1, 2, None, [], periods, usage)

        assert model.recorder.periods("9999-12") == [(a, p) for (a, _), p in periods.items()]
        last = f"acct-{accounts - 1:04d}"
        used = model.recorder.usage(last, "2026-11-01", "2026-11-30")
        assert used == [("2026-11-02", "seo_audit", accounts - 1, 20)]
    finally:
        ledger.close()


def test_the_latest_month_and_day_are_read_from_the_accounts_row_over_any_the_tables_kept(
    store_settings,
):
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        november = Period("2026-11", bought=1000, bought_cents=5000, closing=1000)
        december = november._replace(month="2026-12", opening=1000, closing=990)
        books = Books(period=december, day="2026-12-03", today={"keyword_suggestions": (10, 10)})
        view = BalanceView("acct-1", Account(version=9), datetime(2026, 12, 3, tzinfo=UTC))
        kept = {("acct-1", "2026-11"): november, ("acct-1", "2026-12"): november}  # a stale one
        days = {
            ("acct-1", "2026-12-02"): {"seo_audit": (1, 1)},
            ("acct-1", "2026-12-03"): {"seo_audit": (5, 5)},  # stale: the row's day wins
        }
        model.save([(Entry(view, books=books), view.message())], 0, 1, None, [], kept, days)

        assert model.recorder.periods("9999-12") == [("acct-1", november), ("acct-1", december)]
        assert model.recorder.periods("2026-11") == [("acct-1", november)]
        assert model.recorder.usage("acct-1", "2026-12-01", "2026-12-31") == [
            ("2026-12-02", "seo_audit", 1, 1),
            ("2026-12-03", "keyword_suggestions", 10, 10),
        ]
        assert model.recorder.usage("acct-1", "2026-12-01", "2026-12-02") == [
            ("2026-12-02", "seo_audit", 1, 1)
        ]
        assert model.recorder.has_books()
    finally:
        ledger.close()
