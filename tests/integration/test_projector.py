"""The balance projector on the real broker, one test body over SQLite and PostgreSQL: the
balances topic carries every command's figures, the latest record per key is the balance,
a restart neither skips nor repeats, a rebuild equals the live read model, ``check`` finds a
tampered row, and alerts fire once per crossing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from events.commands import (
    BuyPackage,
    CycleRenewed,
    UseTool,
)
from projections import maintenance
from projections.finance_report import report
from projections.follow import UnreadableEvent
from projections.projector import Projector
from projections.store import message_of
from services.ledger.store import LedgerStore
from services.settings import REPO
from tests.every_kind import every_kind
from tests.integration.conftest_projections import (
    caught_up,
    folded,
    projector_settings,
    running_projector,
)
from tests.workload import command_log

NOW = datetime.now(UTC).replace(microsecond=0)


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def ids(account: str, n: str) -> dict:
    return {"command_id": f"{account}-{n}", "account_id": account, "occurred_at": at(float(n))}


def solo(account: str, n: str = "1", days: int = 30) -> CycleRenewed:
    return CycleRenewed(
        **ids(account, n), plan="solo", cycle_start=at(float(n)), cycle_end=at(24 * days)
    )


async def test_the_balances_topic_carries_the_figures_after_every_command_kind(
    ledger, projector, client, balances
):
    a = "acct-kinds"
    commands = [command for command, _ in every_kind(a, NOW)]
    commands.append(UseTool(**ids(a, "16"), tool="no_such_tool"))  # refused: same figures
    for command in commands:
        outcome = await client.submit(command)

        update = await update_at(balances, a, outcome.stream_version)
        assert update.version == outcome.stream_version, command.type
        assert update.figures == outcome.balance, command.type
    assert update.plan == "agency" and update.plan_credits == 4500
    assert update.cycle_end == at(24 * 30) and update.subscription_expires_at == at(24 * 30)
    assert update.held == 0 and update.total == 5465
    await folded(projector, a, update.version)  # published first, then committed
    assert projector.model.get(a).message() == update


@pytest.mark.parametrize("backend", ["postgres"])  # COPY is PostgreSQL's
async def test_a_small_page_is_saved_in_pipelined_statements_not_copy(
    ledger, projector, client, balances, monkeypatch
):
    """A page of one command was COPYed: temporary table, COPY and INSERT per table, nine
    round trips in all; at a steady rate pages are small, and round trips are what a page
    waits for on a busy machine (issue 15)."""
    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def copy(cursor, statement, *args, **kwargs):
        copies.append(str(statement))
        return real_copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)

    outcome = await client.submit(solo("acct-small-page"))

    await folded(projector, "acct-small-page", outcome.stream_version)
    assert copies == []
    update = await update_at(balances, "acct-small-page", outcome.stream_version)
    assert update.figures == outcome.balance


async def test_the_latest_record_per_key_is_the_current_balance_and_versions_only_rise(
    store_settings, ledger, projector, client, balances
):
    log = command_log(400, 20, seed=3)
    for command in log:
        await client.send(command)
    await consumed(ledger, len(log))
    await caught_up(projector)
    position, rows = projector.model.snapshot()
    stored = {row["account_id"]: message_of(row) for row in rows}

    await balances.until(lambda _: balances.latest() == stored)
    for account_id in stored:
        versions = [u.version for _, _, u in sorted(balances.records) if u.account_id == account_id]
        assert versions == sorted(set(versions)), account_id  # never stale, never repeated
    assert maintenance.check(projector.settings) == (position, [])


async def test_a_projector_restarted_mid_stream_neither_skips_nor_repeats(
    store_settings, ledger, client, balances
):
    log = command_log(600, 20, seed=11)
    producing = asyncio.create_task(send_steadily(client, log))
    small_pages = {"projector_batch_max_events": 40}
    async with running_projector(store_settings, **small_pages) as first:
        while first.events_projected < 150:
            await asyncio.sleep(0.01)
    async with running_projector(store_settings, **small_pages) as second:
        await producing
        await consumed(ledger, len(log))
        await caught_up(second)
        total = second.ledger.recorder.max_notification_id()

    assert first.position < total  # it really was stopped mid-stream
    assert first.events_projected + second.events_projected == total  # none skipped or twice
    assert maintenance.check(second.settings)[1] == []
    seen = [(u.account_id, u.version) for u in balances.messages]
    assert len(seen) == len(set(seen))


async def test_a_commit_that_fails_after_publishing_is_retried_and_consumers_drop_the_repeat(
    store_settings, ledger, client, balances
):
    a = "acct-retry"
    async with running_projector(store_settings, projector_retry_delay_ms=10) as projector:
        save, failures = projector.model.save, []

        def crash_once(*args):
            if not failures:
                failures.append(args)
                raise OSError("the process died between publishing and committing")
            return save(*args)

        projector.model.save = crash_once
        outcome = await client.submit(solo(a))
        await folded(projector, a, outcome.stream_version)

    published = [u for u in balances.messages if u.account_id == a]
    assert [u.version for u in published] == [outcome.stream_version] * 2  # at least once
    assert published[0] == published[1] and published[0].figures == outcome.balance
    assert maintenance.check(projector.settings)[1] == []


async def test_a_rebuild_equals_the_live_read_model(store_settings, ledger, projector, client):
    log = command_log(300, 15, seed=5)
    for command in log:
        await client.send(command)
    await consumed(ledger, len(log))
    await caught_up(projector)
    live = projector.model.snapshot()

    accounts, position = await asyncio.to_thread(maintenance.rebuild, projector.settings)

    assert (accounts, position) == (len(live[1]), live[0])
    assert projector.model.snapshot() == live


async def test_the_finance_identity_holds_for_every_account_of_the_workload_to_the_cent(
    store_settings, ledger, projector, client
):
    log = command_log(400, 20, seed=11)
    for command in log:
        await client.send(command)
    await consumed(ledger, len(log))
    await caught_up(projector)
    months = await asyncio.to_thread(projector.model.recorder.periods, "9999-12")

    got = report(months, "2000-01", "9999-12")

    assert len(got.lines) == 20 and got.total.bought > 0 and got.total.consumed_cents > 0
    assert all(line.balanced for line in got.lines) and got.total.balanced
    assert maintenance.check(projector.settings)[1] == []
    printed = run_credits(
        store_settings,
        "finance",
        "report",
        "--from",
        "2000-01",
        "--to",
        "9999-12",
        "--format",
        "json",
    )
    assert printed.returncode == 0, printed.stderr
    assert orjson.loads(printed.stdout)["total"]["closing_cents"] == got.total.closing_cents
    bad = run_credits(store_settings, "finance", "report", "--from", "2026-13", "--to", "2026-12")
    assert bad.returncode == 2 and "not a month" in bad.stderr


async def test_check_finds_unbalanced_books(store_settings, ledger, projector, client):
    await client.submit(BuyPackage(**ids("acct-b1", "1"), package="small", payment_ref="p-b1"))
    used = await client.submit(UseTool(**ids("acct-b1", "2"), tool="content_analysis", units=1))
    await folded(projector, "acct-b1", used.stream_version)

    # The account's month is its latest: kept in its row's books. Its opening made 1, not 0.
    month = f'"period":["{NOW:%Y-%m}",'
    execute(store_settings, f"UPDATE balances SET view = replace(view, '{month}0,', '{month}1,')")

    _, differences = maintenance.check(projector.settings)
    assert [(d.account_id, d.field) for d in differences] == [("acct-b1", f"books.{NOW:%Y-%m}")]


async def test_check_finds_a_tampered_row_and_exits_non_zero(
    store_settings, ledger, projector, client
):
    for n, account in enumerate(["acct-t1", "acct-t2"]):
        await client.submit(solo(account))
        used = await client.submit(
            UseTool(**ids(account, "2"), tool="content_analysis", units=n + 1)
        )
        await folded(projector, account, used.stream_version)
    assert run_cli(store_settings, "check").returncode == 0

    execute(store_settings, "UPDATE balances SET total = total + 7 WHERE account_id = 'acct-t2'")

    _, differences = maintenance.check(projector.settings)
    assert [(d.account_id, d.field, d.read_model, d.replay) for d in differences] == [
        ("acct-t2", "columns.total", 967, 960)
    ]
    checked = run_cli(store_settings, "check")
    assert checked.returncode == 1
    assert "acct-t2 columns.total: read model 967, replay 960" in checked.stdout
    assert run_cli(store_settings, "lag").stdout.strip() == "0"


async def test_alerts_fire_once_per_crossing(store_settings, ledger, client, alerts):
    a, b = "acct-low", "acct-ending"
    lines = {
        "alert_low_balance_credits": 100,
        "alert_low_balance_percent": 0,
        "alert_expiring_within_hours": 48,
    }
    async with running_projector(store_settings, **lines):
        for command in [
            solo(a),
            UseTool(**ids(a, "2"), tool="content_analysis", units=90),  # 80: low
            UseTool(**ids(a, "3"), tool="keyword_suggestions"),  # 79: still low
            BuyPackage(**ids(a, "4"), package="small", payment_ref="p"),  # 1079: re-armed
            UseTool(**ids(a, "5"), tool="content_analysis", units=100),  # 79: low again
            UseTool(**ids(a, "6"), tool="keyword_suggestions", units=79),  # 0: depleted
            UseTool(**ids(a, "7"), tool="keyword_suggestions"),  # refused: still depleted
            solo(b, days=2),  # its cycle ends within 48 hours: expiring
            UseTool(**ids(b, "2"), tool="keyword_suggestions"),
        ]:
            await client.submit(command)
        said = await alerts.until(lambda seen: len(seen) >= 4)
        await asyncio.sleep(0.5)  # and nothing more

    # Order holds per account (per partition); the two accounts may sit on different partitions.
    of_a = [x for x in alerts.messages if x.account_id == a]
    of_b = [x for x in alerts.messages if x.account_id == b]
    assert [x.kind for x in of_a] == ["low_balance", "low_balance", "depleted"]
    assert [x.kind for x in of_b] == ["subscription_expiring_soon"]
    assert len(said) == 4
    assert of_a[0].threshold_credits == 100 and of_a[0].balance.total == 80
    assert of_b[0].expires_at == at(48)


async def test_a_stored_event_that_cannot_be_read_stops_the_projector_with_its_name(
    store_settings,
):
    store = LedgerStore(store_settings)
    store.recorder.insert_events([StoredEvent("acct-bad", 1, "ToolUsed", b"not an event")])
    stuck = Projector(projector_settings(store_settings))
    try:
        with pytest.raises(UnreadableEvent, match="acct-bad version 1"):
            await asyncio.wait_for(stuck.run(asyncio.Event()), 20)
        assert stuck.model.position() == 0
    finally:
        stuck.close()
        store.close()


async def test_an_unreadable_row_is_rebuilt_from_its_stream_and_the_projector_carries_on(
    store_settings, ledger, client, balances
):
    a = "acct-garbled"
    async with running_projector(store_settings) as first:
        started = await client.submit(solo(a))
        await folded(first, a, started.stream_version)
    execute(store_settings, f"UPDATE balances SET view = 'garbled' WHERE account_id = '{a}'")
    outcome = await client.submit(UseTool(**ids(a, "2"), tool="article_generation"))
    async with asyncio.timeout(10):  # the ledger stores the event just after the outcome
        while maintenance.lag(projector_settings(store_settings)) != 1:
            await asyncio.sleep(0.02)

    async with running_projector(store_settings) as second:
        update = await update_at(balances, a, outcome.stream_version)
        await caught_up(second)

    assert update.figures == outcome.balance
    assert maintenance.check(second.settings)[1] == []


async def consumed(ledger, count: int, timeout_s: float = 60) -> None:
    """Until the ledger has taken ``count`` commands off the topic."""
    async with asyncio.timeout(timeout_s):
        while sum(ledger.positions.values()) < count:
            await asyncio.sleep(0.02)


async def send_steadily(client, log, chunk: int = 40) -> None:
    for n in range(0, len(log), chunk):
        for command in log[n : n + chunk]:
            await client.send(command)
        await asyncio.sleep(0.1)


def execute(settings, statement: str) -> None:
    """Change the read model behind the projector's back."""
    if settings.event_store == "sqlite":
        with sqlite3.connect(settings.sqlite_path) as conn:
            conn.execute(statement)
        return
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {settings.postgres_schema}")
        conn.execute(statement)


def run_cli(settings, command: str) -> subprocess.CompletedProcess:
    return run_credits(settings, command, module="projections")


def run_credits(settings, *args: str, module: str = "services.cli") -> subprocess.CompletedProcess:
    env = os.environ | {
        "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
    }
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def update_at(balances, account: str, version: int):
    """The balance update of ``account`` at ``version``, once it is on the topic."""

    def found(seen):
        return any(u.account_id == account and u.version == version for u in seen)

    seen = await balances.until(found)
    return next(u for u in seen if u.account_id == account and u.version == version)


async def test_a_page_folded_ahead_leaves_only_after_the_page_before_it_commits_even_when_that_commit_fails(  # noqa: E501
    store_settings, ledger, client, balances
):
    """While a page is committed the next is read and folded on top of it; nothing of the
    next page is published before the page before it is committed, and when that commit
    fails, the page folded ahead is dropped and read again from the stored position."""
    log = command_log(300, 12, seed=5)
    for command in log:
        await client.send(command)
    await consumed(ledger, len(log))
    projector = Projector(projector_settings(store_settings, projector_batch_max_events=25))
    steps: list[tuple[str, int]] = []
    real_read, real_save, real_publish = (
        projector.reader.read,
        projector.model.save,
        projector._publish,
    )
    failures = iter([True])

    def read(after):
        steps.append(("read", after))
        return real_read(after)

    def save(entries, previous, position, *rest):
        steps.append(("commit", previous))
        time.sleep(0.05)  # a slow commit: the next page is folded meanwhile
        if position > 100 and next(failures, False):
            steps.append(("failed", previous))
            raise RuntimeError("the database went away")
        real_save(entries, previous, position, *rest)
        steps.append(("committed", position))

    async def publish(updates, alerts):
        steps.append(("publish", 0))
        await real_publish(updates, alerts)

    projector.reader.read, projector.model.save, projector._publish = read, save, publish
    stop = asyncio.Event()
    running = asyncio.create_task(projector.run(stop))
    try:
        await caught_up(projector)
        total = projector.ledger.recorder.max_notification_id()
        checked = maintenance.check(projector.settings)
        _, rows = projector.model.snapshot()
    finally:
        stop.set()
        await running
        projector.close()

    kinds = [kind for kind, _ in steps if kind != "read"]
    assert "failed" in kinds
    # each publish is followed by its page's commit before anything else is published
    assert all(kinds[n + 1] == "commit" for n, kind in enumerate(kinds) if kind == "publish"), kinds
    # pages were read ahead: after a page, before that page was committed
    committed: set[int] = {0}
    read_ahead = 0
    for kind, at in steps:
        if kind == "committed":
            committed.add(at)
        elif kind == "read" and at not in committed:
            read_ahead += 1
    assert read_ahead > 0
    # after the failure, the projector went back to the stored position
    failed_at = next(at for kind, at in steps if kind == "failed")
    after = steps[[s[0] for s in steps].index("failed") + 1 :]
    assert ("commit", failed_at) in after
    assert projector.position == total
    assert checked == (total, [])
    await balances.until(
        lambda _: balances.latest() == {r["account_id"]: message_of(r) for r in rows}
    )
