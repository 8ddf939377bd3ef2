"""One bad event quarantines one account, and exactly one projector publishes: the projector's
cases of issue #12 on the real broker, over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from events.commands import UseTool
from projections import maintenance
from projections.history import Names
from projections.projector import Projector
from tests.integration.conftest_projections import folded, projector_settings, running_projector
from tests.integration.test_projector import ids, solo, update_at

POISON = "image_generation"  # the tool the bad account uses; the good one uses another


class Unsayable(dict[str, str]):
    """The catalog's tool names, except that saying ``POISON`` raises, as an overflow in the
    alert window did: an event that cannot be folded. (A fault put into the folds from here
    rather than by patching one of them: they may run compiled, ``services/native.py``, and
    a compiled module calls its neighbours directly.)"""

    def get(self, tool: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if tool == POISON:
            raise OverflowError("date value out of range")
        return super().get(tool, default)


async def test_an_event_that_cannot_be_folded_quarantines_its_account_and_the_rest_goes_on(
    store_settings, ledger, client, balances, caplog
):
    bad, good = "acct-poison", "acct-fine"
    async with running_projector(store_settings) as projector:
        names = projector.names
        projector.names = Names(Unsayable(names.tools), names.packages, names.plans)
        for account in (bad, good):
            await folded(projector, account, (await client.submit(solo(account))).stream_version)
        await client.submit(UseTool(**ids(bad, "2"), tool=POISON))
        used = await client.submit(UseTool(**ids(good, "2"), tool="article_generation"))
        await update_at(balances, good, used.stream_version)
        async with asyncio.timeout(20):  # the two accounts' batches may commit in either order
            while not projector.quarantined:
                await asyncio.sleep(0.02)

        assert projector.quarantined.keys() == {bad}
        assert projector.model.get(bad).version == 1  # held at its last good version
    async with running_projector(store_settings) as again:  # a restart does not stop either
        after = await client.submit(UseTool(**ids(good, "3"), tool="article_generation"))
        await update_at(balances, good, after.stream_version)
        await client.submit(UseTool(**ids(bad, "3"), tool="article_generation"))

    assert again.quarantined.keys() == {bad}
    [named] = [d for d in maintenance.check(again.settings)[1] if d.field == "quarantined"]
    assert named.account_id == bad and "OverflowError" in named.read_model
    assert f"QUARANTINED {bad}" in caplog.text
    assert all(u.version == 1 for u in balances.messages if u.account_id == bad)


async def test_a_second_projector_stands_by_and_takes_over_when_the_active_one_dies(
    store_settings, ledger, client
):
    a = "acct-standby"
    knobs = {"projector_lease_ms": 1500}
    first_run = running_projector(store_settings, **knobs)
    first = await first_run.__aenter__()
    second = Projector(projector_settings(store_settings, **knobs))
    standing = asyncio.create_task(second.run(stop := asyncio.Event()))
    try:
        await folded(first, a, (await client.submit(solo(a))).stream_version)
        assert (first.leading, second.leading) == (True, False)

        first.lease.release = lambda: None  # it dies: no clean hand-over
        await first_run.__aexit__(None, None, None)
        async with asyncio.timeout(10):
            await second.started.wait()
        used = await client.submit(UseTool(**ids(a, "2"), tool="keyword_suggestions"))
        await folded(second, a, used.stream_version)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await standing
        second.close()
    assert second.batches_committed >= 1


async def test_a_zombie_projector_that_lost_its_lease_publishes_nothing(
    store_settings, ledger, client, caplog
):
    a = "acct-zombie"
    knobs = {"projector_lease_ms": 1000}
    caplog.set_level(logging.INFO, "kalema.projector")
    async with running_projector(store_settings, **knobs) as zombie:
        await folded(zombie, a, (await client.submit(solo(a))).stream_version)
        gate, real_step = asyncio.Event(), zombie._step

        async def stalled_step():  # as if stopped by SIGSTOP past its lease
            await gate.wait()
            return await real_step()

        zombie._step = stalled_step
        await asyncio.sleep(0.1)
        async with running_projector(store_settings, **knobs) as successor:
            used = await client.submit(UseTool(**ids(a, "2"), tool="keyword_suggestions"))
            await folded(successor, a, used.stream_version)
            committed = zombie.batches_committed
            gate.set()  # the zombie resumes
            async with asyncio.timeout(10):
                while zombie.leading:
                    await asyncio.sleep(0.02)

        assert zombie.batches_committed == committed
    assert "lost the lease" in caplog.text
