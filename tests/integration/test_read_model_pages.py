"""A page's rows written and read back, one test body over SQLite and PostgreSQL: a small
page's (statements) and a large one's (PostgreSQL: a binary COPY) hold the same columns, with
the texts a text COPY would have had to escape and the times and plans a new account lacks."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime

import pytest

from projections.balance import BalanceView
from projections.batch import Entry
from projections.history import Row
from projections.recorders import SMALL_PAGE
from projections.store import message_of, open_read_model
from services.ledger.core import Account
from tests.integration.conftest_projections import logged, projector_settings

AT = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def _view(n: int) -> BalanceView:
    """Every other account opened on a plan with one due; the others have no plan or times."""
    account_id = f"acct-\\\t\n-é-{n:04d}"  # backslash, tab, newline, not ASCII
    if n % 2:
        return BalanceView(account_id, Account(version=1), AT)
    account = Account(
        opened=True, plan="solo", plan_credits=980, billing_interval="monthly",
        cycle_start=AT, cycle_end=datetime(2026, 12, 1, 12, 30, tzinfo=UTC),
        pending_plan="agency", version=n + 2, as_of=AT,
    )  # fmt: skip
    return BalanceView(account_id, account, AT)


@pytest.mark.parametrize("accounts", [3, SMALL_PAGE + 50])
def test_a_pages_balance_and_history_rows_read_back_as_they_were_written(store_settings, accounts):
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        views = [_view(n) for n in range(accounts)]
        lines = [
            (
                logged(ledger, v.account_id, v.version),
                v.account_id,
                *astuple(Row(v.version, AT, "cmd\t\\1", "E", "w\nhat", "", *[n] * 9)),
            )
            for n, v in enumerate(views)
        ]
        model.save([(Entry(v), v.message()) for v in views], 0, 1, None, lines)

        position, rows = model.snapshot()
        assert position == 1
        assert {r["account_id"]: message_of(r) for r in rows} == {
            v.account_id: v.message() for v in views
        }
        assert {v.account_id: model.get(v.account_id) for v in views} == {
            v.account_id: v for v in views
        }
        for view, line in zip(views, lines, strict=True):
            assert model.history(view.account_id, view.version, 0, 5) == [Row(*line[2:])]
    finally:
        ledger.close()


@pytest.mark.parametrize("accounts", [3, SMALL_PAGE + 50])
def test_a_page_whose_history_lines_are_stored_already_is_committed_and_keeps_them(
    store_settings, accounts, caplog
):
    """A page's lines are added without looking for lines already there (none can be: they
    follow the position, and commit with it), a large page's on PostgreSQL straight into the
    history table; one there all the same must not stop the projector on a duplicate key."""
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        views = [_view(n) for n in range(accounts)]
        lines = [
            (
                logged(ledger, v.account_id, v.version),
                v.account_id,
                *astuple(Row(v.version, AT, f"cmd-{n}", "E", "what", "", *[n] * 9)),
            )
            for n, v in enumerate(views)
        ]
        model.recorder.add_history(lines[:1])  # written by hand, ahead of the position
        other = Row(views[0].version, AT, "other", "E", "w", "", *[0] * 9)

        entries = [(Entry(v), v.message()) for v in views]
        first = (lines[0][0], views[0].account_id, *astuple(other))  # the same event's line
        model.save(entries, 0, 1, None, [first, *lines[1:]])

        assert model.snapshot()[0] == 1
        assert "stored already" in caplog.text  # added without looking first, then kept
        for view, line in zip(views, lines, strict=True):
            assert model.history(view.account_id, view.version, 0, 5) == [Row(*line[2:])]
    finally:
        ledger.close()
