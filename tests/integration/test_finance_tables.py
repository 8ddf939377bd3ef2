"""The finance tables written with a page, one test body over SQLite and PostgreSQL: a small
page's months and usage as statements, a large one's (PostgreSQL: COPY) the same, a month or
day written again is replaced, not added, an account's latest month and day are read from
its row's books, and a read model that kept a row per day and tool is merged into the day
rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from projections.balance import BalanceView
from projections.batch import Entry
from projections.finance import Books, Period
from projections.finance_tables import USAGE_BY_TOOL
from projections.recorders import SMALL_PAGE
from projections.store import open_read_model
from services.ledger.core import Account
from tests.integration.conftest_projections import caught_up, projector_settings, running_projector


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


_BY_TOOL = (  # the table as it was before issue 26: a row per account, day and tool
    "CREATE TABLE {usage_by_tool} (account_id TEXT NOT NULL, day TEXT NOT NULL, "
    "tool TEXT NOT NULL, uses BIGINT NOT NULL, credits BIGINT NOT NULL, "
    "PRIMARY KEY (account_id, day, tool))"
)


def _kept_by_tool(model, rows) -> None:
    recorder = model.recorder
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(recorder.q(_BY_TOOL))
        for row in rows:
            c.execute(recorder.q("INSERT INTO {usage_by_tool} VALUES (?, ?, ?, ?, ?)"), row)


def test_a_read_model_keeping_a_row_per_tool_has_its_days_merged_once_and_read_the_same(
    store_settings,
):
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        days = {("acct-1", "2026-12-01"): {"seo_audit": (9, 90)}}
        model.save([], 0, 1, None, [], {}, days)  # a day already in the day rows is kept
        _kept_by_tool(
            model,
            [
                ("acct-1", "2026-12-01", "seo_audit", 1, 1),
                ("acct-1", "2026-12-02", "seo_audit", 2, 20),
                ("acct-1", "2026-12-02", "keyword_suggestions", 3, 3),
                ("acct-2", "2026-12-02", "seo_audit", 4, 40),
            ],
        )

        assert model.recorder.merge_usage_by_tool()

        assert model.recorder.usage("acct-1", "2026-12-01", "2026-12-31") == [
            ("2026-12-01", "seo_audit", 9, 90),
            ("2026-12-02", "keyword_suggestions", 3, 3),
            ("2026-12-02", "seo_audit", 2, 20),
        ]
        assert model.recorder.usage("acct-2", "2026-12-01", "2026-12-31") == [
            ("2026-12-02", "seo_audit", 4, 40)
        ]
        assert not model.recorder.has_table(USAGE_BY_TOOL)
        assert not model.recorder.merge_usage_by_tool()  # nothing left to merge
    finally:
        ledger.close()


async def test_the_projector_taking_the_lease_merges_a_read_model_kept_a_row_per_tool(
    store_settings,
):
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        _kept_by_tool(model, [("acct-1", "2026-12-02", "seo_audit", 2, 20)])
    finally:
        ledger.close()

    async with running_projector(store_settings) as projector:
        await caught_up(projector)
        recorder = projector.model.recorder
        assert not recorder.has_table(USAGE_BY_TOOL)
        assert recorder.usage("acct-1", "2026-12-01", "2026-12-31") == [
            ("2026-12-02", "seo_audit", 2, 20)
        ]
