"""How the clock knows its schedule: the read model read a page at a time when it becomes
active, with the lease renewed between pages, then only the rows the balances topic names.
Against an in-memory read model and lease, so each read can be counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from projections import balance
from projections.balance import BalanceView
from projections.batch import Entry
from services.clock import service
from services.clock.service import Clock
from services.clock.settings import ClockSettings
from tests.unit.core.scenario import day, given, renewed, reserved

ACCOUNTS = [f"acct-{n:02}" for n in range(25)]


class Model:
    """The read model's rows; every read is written down in ``reads``."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.rows = {a: BalanceView(a, given(renewed("solo", 0)), day(0)) for a in ACCOUNTS}

    def page(self, after: str, limit: int) -> list[dict[str, Any]]:
        self.log.append("page")
        chosen = sorted(a for a in self.rows if a > after)[:limit]
        return [self._row(a) for a in chosen]

    def snapshot(self) -> tuple[int, list[dict[str, Any]]]:
        self.log.append("every row")
        return 0, [self._row(a) for a in sorted(self.rows)]

    def entries(self, ids: list[str]) -> tuple[dict[str, Entry], dict[str, str]]:
        self.log.append(f"rows {sorted(ids)}")
        return {a: Entry(self.rows[a]) for a in ids}, {}

    def _row(self, account_id: str) -> dict[str, Any]:
        view = self.rows[account_id]
        return {"account_id": account_id, "version": view.version, "view": balance.dump(view)}


class Lease:
    def __init__(self, log: list[str]) -> None:
        self.log, self.held = log, True

    def take(self, now_s: float) -> bool:
        self.log.append("lease")
        return self.held

    def give_up(self) -> None: ...


class Consumer:
    def __init__(self) -> None:
        self.records: list[Any] = []

    async def getmany(self, timeout_ms: int) -> dict[str, list[Any]]:
        records, self.records = self.records, []
        return {"balances": records} if records else {}


class Record:
    def __init__(self, view: BalanceView) -> None:
        self.value = view.message().model_dump_json().encode()


class Producer:
    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def clock_on(monkeypatch: pytest.MonkeyPatch):
    """A clock on an in-memory read model and lease, its moments a second apart."""

    def made(log: list[str]) -> tuple[Clock, Model, Lease, Consumer]:
        model, lease, consumer = Model(log), Lease(log), Consumer()
        monkeypatch.setattr(service, "_open", lambda settings: (None, model, lease))
        moments = iter(day(1) + timedelta(seconds=n) for n in range(10_000))
        settings = ClockSettings(clock_page_rows=10, clock_lease_ttl_s=0.003)  # renewed each turn
        clock = Clock(settings, now=lambda: next(moments))
        clock._consumer, clock._producer = consumer, Producer()  # type: ignore[assignment]
        return clock, model, lease, consumer

    return made


async def turns(clock: Clock, n: int) -> None:
    for _ in range(n):
        await clock._tick()


async def test_a_clock_becoming_active_reads_the_read_model_a_page_at_a_time_renewing_its_lease(
    clock_on,
):
    log: list[str] = []
    clock, *_ = clock_on(log)

    await turns(clock, 4)

    assert log == ["lease", "page", "lease", "page", "lease", "page", "lease"]
    assert len(clock.schedule) == 25 and clock.next == day(30)


async def test_once_read_the_clock_rereads_only_the_rows_the_balances_topic_names(clock_on):
    log: list[str] = []
    clock, model, _, consumer = clock_on(log)
    await turns(clock, 3)
    held = BalanceView("acct-07", given(renewed("solo", 0), reserved(at=1, expires=1.5)), day(1))
    model.rows["acct-07"] = held
    consumer.records.append(Record(held))

    await turns(clock, 300)  # well over five minutes: the clock asks the time a few times a turn

    assert [entry for entry in log if entry != "lease"] == ["page"] * 3 + ["rows ['acct-07']"]
    assert clock.next == day(1.5)


async def test_a_clock_that_loses_the_lease_and_takes_it_back_reads_the_read_model_again(
    clock_on,
):
    log: list[str] = []
    clock, _, lease, _ = clock_on(log)
    await turns(clock, 3)

    lease.held = False
    await turns(clock, 1)
    assert (clock.active, len(clock.schedule)) == (False, 0)

    lease.held = True
    await turns(clock, 3)
    assert [entry for entry in log if entry != "lease"] == ["page"] * 6
    assert len(clock.schedule) == 25
