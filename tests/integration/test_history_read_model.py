"""The history read model (issue #11), one test body over SQLite and PostgreSQL: the projector
writes each event's history entry with the balances, a rebuild writes the same, and a read
model from before the history existed gets it when the projector starts."""

from __future__ import annotations

import asyncio
from dataclasses import astuple
from datetime import UTC, datetime

from projections import maintenance
from projections.balance import BalanceView
from projections.batch import Entry
from projections.history import Names, Row, rows
from projections.recorders import HISTORY_BY_ACCOUNT
from projections.store import open_read_model
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account
from tests.integration.conftest_projections import (
    caught_up,
    logged,
    projector_settings,
    running_projector,
)
from tests.integration.test_projector import consumed
from tests.workload import command_log


async def history_of(projector, account_id: str):
    view = await asyncio.to_thread(projector.model.get, account_id)
    return await asyncio.to_thread(projector.model.history, account_id, view.version, 0, 10_000)


def as_the_page_reads_it(projector, account_id: str):
    """The history folded from the ledger's stream, said with the catalog's names."""
    events = (r.event for r in projector.ledger.stream(account_id))
    return rows(events, Names.of(load_catalog()))[::-1]


async def test_every_event_has_its_history_entry_newest_first_and_a_rebuild_writes_the_same(
    store_settings, ledger, projector, client
):
    log = command_log(300, 10, seed=11)
    for command in log:
        await client.send(command)
    await consumed(ledger, len(log))
    await caught_up(projector)
    accounts = sorted({command.account_id for command in log})

    live = {a: await history_of(projector, a) for a in accounts}
    await asyncio.to_thread(maintenance.rebuild, projector.settings)

    for account_id in accounts:
        assert live[account_id] == as_the_page_reads_it(projector, account_id)
        assert await history_of(projector, account_id) == live[account_id]


async def _projected_then(store_settings, ledger, client, log, *statements: str) -> str:
    """``log`` projected by a projector, then ``statements`` run on its read model (templates
    of its recorder's ``q``), which must leave it without a history: an account of the log."""
    async with running_projector(store_settings) as first:
        for command in log:
            await client.send(command)
        await consumed(ledger, len(log))
        await caught_up(first)
        recorder = first.model.recorder
        with recorder.datastore.transaction(commit=True) as c:
            for statement in statements:
                c.execute(recorder.q(statement))
        assert not recorder.has_history()
    return log[0].account_id


async def test_a_read_model_without_history_gets_it_when_the_projector_starts(
    store_settings, ledger, client
):
    log = command_log(120, 4, seed=12)
    emptied = "DELETE FROM {history}"  # as before the history existed
    account_id = await _projected_then(store_settings, ledger, client, log, emptied)

    async with running_projector(store_settings) as second:
        assert await history_of(second, account_id) == as_the_page_reads_it(second, account_id)


async def test_a_read_model_keeping_the_history_by_account_is_rebuilt_by_position_once(
    store_settings, ledger, client
):
    log = command_log(60, 3, seed=13)
    as_before_issue_26 = (
        "DELETE FROM {history}",
        "CREATE TABLE {history_by_account} (account_id TEXT)",
    )
    account_id = await _projected_then(store_settings, ledger, client, log, *as_before_issue_26)

    async with running_projector(store_settings) as second:
        assert await history_of(second, account_id) == as_the_page_reads_it(second, account_id)
        assert not second.model.recorder.has_table(HISTORY_BY_ACCOUNT)


def test_a_history_entry_saved_again_is_kept_once_and_the_page_still_commits(store_settings):
    """Pages are written in bulk (COPY on PostgreSQL): the history's rule, one entry per
    version and the first one kept, holds there too, within a page and across pages."""
    ledger, model = open_read_model(projector_settings(store_settings))
    try:
        view = BalanceView(
            "acct-twice", Account(version=1), updated_at=datetime(2026, 11, 1, tzinfo=UTC)
        )
        stored = [(Entry(view), view.message())]
        first, again = _entry("first"), _entry("again")
        position = logged(ledger, "acct-twice", 1)
        lines = [(position, "acct-twice", *astuple(x)) for x in (first, again)]
        model.save(stored, 0, 1, None, lines)
        model.save(stored, 1, 2, None, lines[1:])

        assert model.history("acct-twice", 1, 0, 10) == [first]
        assert model.position() == 2 and model.get("acct-twice") == view
    finally:
        ledger.close()


def _entry(what: str) -> Row:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return Row(1, at, "cmd-1", "CreditsGranted", what, "", 0, 0, 5, 0, 0, 0, 5, 0, 5)
