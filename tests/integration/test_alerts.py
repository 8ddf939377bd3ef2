"""Alerts a person sees: the API's alert stream and the page show low-balance and depleted
alerts as the projector publishes them (real broker, SQLite store)."""

from __future__ import annotations

import asyncio
import sys

import pytest
from playwright.async_api import expect

from services.settings import REPO, Settings
from tests.integration.conftest_api import (  # noqa: F401  (api_fixture: the api fixture)
    SERVICE_TOKEN,
    api_fixture,
    bearer,
    open_account,
    sse_events,
)
from tests.integration.test_browser import WAIT_MS, browser_page
from tests.integration.test_browser import served as system_served  # noqa: F401  (fixture)

SCREENSHOT = REPO / "artifacts" / "browser" / "alerts.png"


async def test_the_alert_stream_carries_an_accounts_alerts_as_they_arrive(
    api, client, store_settings: Settings
):
    await open_account(client, "acct-al", package=None)  # Solo: 980 subscription credits
    await open_account(client, "acct-other", package=None)
    async with (
        api.client() as http,
        http.stream(
            "GET", "/accounts/acct-al/alerts/stream", headers=bearer(SERVICE_TOKEN)
        ) as response,
    ):
        assert response.status_code == 200
        received = sse_events(response, "alert")
        await client.use_tool("acct-other", "content_analysis", 90)  # another account's alert
        await client.use_tool("acct-al", "content_analysis", 90)  # 80 left: at or below 98
        first = await asyncio.wait_for(anext(received), 20)
        await client.use_tool("acct-al", "keyword_suggestions", 80)
        second = await asyncio.wait_for(anext(received), 20)
    assert (first["account_id"], first["kind"], first["threshold_credits"]) == (
        "acct-al",
        "low_balance",
        98,
    )
    assert (second["kind"], second["balance"]["total"]) == ("depleted", 0)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_page_shows_low_balance_and_depleted_alerts_as_they_arrive(
    system_served,  # noqa: F811  (the fixture imported above)
    backend,
):
    url, env = system_served  # acct-a: 980 subscription and 1,000 purchased credits
    async with browser_page() as page:
        await page.goto(f"{url}/#token=token-a")
        alerts, total = page.locator("#alerts"), page.locator("#balance-total")
        await expect(alerts).to_have_attribute("data-state", "on", timeout=WAIT_MS)
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
        await use_from_another_process(env, "acct-a", "article_generation", 38)  # 80 left
        low = alerts.locator("li.low_balance")
        await expect(low).to_contain_text(
            "Low balance: 80 credits left (your line is 98).", timeout=WAIT_MS
        )
        await expect(total).to_have_text("80", timeout=WAIT_MS)
        await use_from_another_process(env, "acct-a", "keyword_suggestions", 80)
        depleted = alerts.locator("li.depleted")
        await expect(depleted).to_contain_text("Out of credits", timeout=WAIT_MS)
        await expect(total).to_have_text("0", timeout=WAIT_MS)
        assert await alerts.locator("li").count() == 2  # newest first, each once
        assert await alerts.locator("li").first.get_attribute("data-kind") == "depleted"
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        await depleted.get_by_title("Dismiss").click()
        await expect(depleted).to_have_count(0)
        await expect(low).to_have_count(1)


async def use_from_another_process(env: dict[str, str], account: str, tool: str, units=1) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.outside_producer",
        account,
        tool,
        str(units),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await child.wait() == 0
