"""Time moves the balance a person sees: the whole system as ``make run`` starts it (ledger,
projector, clock and API as their own processes, SQLite store, real broker), a cycle that ends
a few seconds ahead, and no other command. The page (headless Debian Chromium), the API and the
balances topic all drop to the purchased credits at the instant; the delays are printed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from events.commands import BuyPackage
from services.client import LedgerClient
from services.settings import REPO, Settings
from tests.integration.conftest_api import SERVICE_TOKEN, bearer
from tests.integration.test_browser import (
    WAIT_MS,
    browser_page,
    environment,
    free_port,
    processes,
    until_serving,
)
from tests.integration.test_clock import cycle

ENDS_IN_S = 10.0  # time enough to open the page on a busy machine before the cycle ends
TARGET_S = 2.0

# Records, in the page, the wall time at which the sidebar first showed the dropped total.
WATCH = """(want) => new Promise((resolve) => {
  const total = document.getElementById("balance-total");
  new MutationObserver(() => {
    if (total.textContent === want) resolve(Date.now() / 1000);
  }).observe(total, {childList: true, characterData: true, subtree: true});
})"""


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_page_the_api_and_kafka_drop_at_the_cycle_end_with_no_other_command(
    store_settings: Settings, backend: str, tmp_path: Path, balances
):
    port = free_port()
    env = environment(store_settings, port) | {
        f"KALEMA_{name}_METRICS_PORT": "0" for name in ("LEDGER", "PROJECTOR", "CLOCK")
    }
    with processes(env, tmp_path) as children, (tmp_path / "clock.log").open("wb") as log:
        clock = subprocess.Popen(
            [sys.executable, "-m", "services.clock"], cwd=REPO, env=env, stdout=log, stderr=log
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await until_serving(url, children["api"], tmp_path / "api.log")
            ends = datetime.now(UTC) + timedelta(seconds=ENDS_IN_S)
            async with LedgerClient(store_settings, timeout_s=30) as client:
                await client.execute(cycle("acct-b", ends))
                await client.execute(
                    BuyPackage(
                        command_id="acct-b-pkg",
                        account_id="acct-b",
                        occurred_at=ends - timedelta(days=1),
                        package="small",
                        payment_ref="acct-b-pay",
                    )
                )
            async with browser_page() as page:
                await page.goto(f"{url}/#token=token-b")
                total = page.locator("#balance-total")
                await expect(total).to_have_text("1,980", timeout=WAIT_MS)
                await expect(page.locator("#live")).to_have_attribute("data-state", "on")
                assert time.time() < ends.timestamp(), "the page opened too late to watch"
                on_page = asyncio.ensure_future(page.evaluate(WATCH, "1,000"))
                in_api = asyncio.create_task(api_drops(url, ends))
                on_kafka = await_kafka(balances, ends)
                delays = {
                    "kafka": await on_kafka - ends.timestamp(),
                    "api": await in_api - ends.timestamp(),
                    "page": await on_page - ends.timestamp(),
                }
                await expect(total).to_have_text("1,000")
        finally:
            clock.terminate()
            clock.wait(timeout=15)
            for name in [*children, "clock"]:
                print(f"--- {name} ---\n{(tmp_path / f'{name}.log').read_text()[-2000:]}")
    print("\nafter cycle_end: " + ", ".join(f"{k} {v:.3f}s" for k, v in delays.items()))
    assert all(0 <= delay <= TARGET_S for delay in delays.values()), delays


async def await_kafka(balances, ends: datetime) -> float:
    await balances.until(
        lambda ms: any(m.account_id == "acct-b" and m.total == 1000 for m in ms), timeout_s=30
    )
    return time.time()


async def api_drops(url: str, ends: datetime) -> float:
    """Polls the balance every 20 ms from just before the instant; the first time it shows 1,000."""
    await asyncio.sleep(max(0.0, ends.timestamp() - time.time() - 0.5))
    async with httpx.AsyncClient(base_url=url, headers=bearer(SERVICE_TOKEN)) as http:
        async with asyncio.timeout(30):
            while True:
                body = (await http.get("/accounts/acct-b/balance")).json()
                if body["total"] == 1000:
                    return time.time()
                await asyncio.sleep(0.02)
