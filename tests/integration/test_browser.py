"""The account page in a real browser: headless Chromium (Debian's, never a downloaded one)
driven by Playwright, in front of the ledger, the projector and the API running as their own
processes on the real broker (SQLite store). The balance must change on the page, without a
reload, when ANOTHER process produces a ``UseTool`` on Kafka; the demo account's details chart
its use and forecast when its credits run out, checked on the elements drawn."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright, expect

from services.api import demo
from services.client import LedgerClient
from services.settings import REPO, Settings
from tests.integration.conftest_api import (
    SERVICE_TOKENS,
    TOKENS,
    WEBHOOK_SECRET,
    api_settings,
    bearer,
    open_account,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "artifacts" / "browser" / "sidebar.png"
INSIGHT_SCREENSHOT = REPO / "artifacts" / "browser" / "usage.png"
DEMO_TOKEN = "token-demo"
WAIT_MS = 20_000  # the longest any expectation waits for the page (it is not a measurement)


def environment(settings: Settings, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "KALEMA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_LEDGER_GROUP_ID": settings.ledger_group_id,
        "KALEMA_API_PORT": str(port),
        "KALEMA_API_SERVICE_TOKENS": json.dumps(SERVICE_TOKENS),
        "KALEMA_API_ACCOUNT_TOKENS": json.dumps(TOKENS | {DEMO_TOKEN: "acct-demo"}),
        "KALEMA_PAYMENTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KALEMA_TOPUP_TEST_PROVIDER_URL": f"http://127.0.0.1:{port}",
    }


DEPLOYABLES = (
    ("ledger", "services.ledger"),
    ("projector", "projections"),
    ("api", "services.api"),
    ("topup", "services.topup"),
)


@contextmanager
def processes(
    env: dict[str, str], logs: Path, deployables: tuple[tuple[str, str], ...] = DEPLOYABLES
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The deployables (name, module) as ``make run`` starts them, each logging to
    ``logs/<name>.log``, stopped by SIGTERM at the end."""
    started = {}
    try:
        for name, module in deployables:
            with (logs / f"{name}.log").open("wb") as log:
                started[name] = subprocess.Popen(
                    [sys.executable, "-m", module], cwd=REPO, env=env, stdout=log, stderr=log
                )
        yield started
    finally:
        for child in started.values():
            child.send_signal(signal.SIGTERM)
        for child in started.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until_serving(url: str, api: subprocess.Popen[bytes], log: Path) -> None:
    async with asyncio.timeout(30), httpx.AsyncClient() as http:
        while True:
            assert api.poll() is None, f"the API exited:\n{log.read_text()}"
            try:
                if (await http.get(f"{url}/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


@pytest.fixture
async def served(store_settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, dict]]:
    """The page's URL and the environment of the system behind it (account acct-a opened:
    Solo's 980 subscription credits and a small package's 1,000)."""
    port = free_port()
    env = environment(store_settings, port)
    with processes(env, tmp_path) as children:
        url = f"http://127.0.0.1:{port}"
        try:
            async with LedgerClient(store_settings, timeout_s=30) as client:
                await open_account(client, "acct-a")
            await until_serving(url, children["api"], tmp_path / "api.log")
            yield url, env
        finally:
            for name in children:
                print(f"--- {name} ---\n{(tmp_path / f'{name}.log').read_text()[-3000:]}")


async def produce_from_another_process(env: dict[str, str], account_id: str, tool: str) -> dict:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.outside_producer",
        account_id,
        tool,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    return json.loads(out)


async def sidebar(page: Page) -> tuple[str, str, str]:
    return (
        await page.locator("#balance-total").inner_text(),
        await page.locator("#balance-subscription").inner_text(),
        await page.locator("#balance-purchased").inner_text(),
    )


@asynccontextmanager
async def browser_page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page(viewport={"width": 1180, "height": 860})
        finally:
            await browser.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_page_follows_every_change_live_and_buys_only_through_a_paid_checkout(
    served, backend
):
    url, env = served
    async with browser_page() as page:
        loads = []
        page.on("load", lambda _: loads.append(page.url))
        await page.goto(f"{url}/?token=token-a")
        total = page.locator("#balance-total")
        await expect(total).to_have_text("1,980", timeout=WAIT_MS)
        assert await sidebar(page) == ("1,980", "980", "1,000")
        assert "token" not in page.url
        assert await page.evaluate("sessionStorage.getItem('kalema.token')") == "token-a"
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
        await page.evaluate("() => { window.sameDocument = true; }")  # a reload forgets it

        outcome = await produce_from_another_process(env, "acct-a", "article_generation")

        assert outcome["balance"]["total"] == 1930
        await expect(total).to_have_text("1,930", timeout=WAIT_MS)
        assert await sidebar(page) == ("1,930", "930", "1,000")
        assert await page.evaluate("() => window.sameDocument") is True

        await page.select_option("#tool", "content_analysis")
        await page.get_by_role("button", name="Use tool").click()
        await expect(total).to_have_text("1,920", timeout=WAIT_MS)
        await expect(page.locator("#message")).to_contain_text("10 credits (10 subscription)")

        await page.select_option("#tool", "image_generation")
        await page.fill("#units", "100")
        await page.get_by_role("button", name="Use tool").click()
        message = page.locator("#message.refused")
        await expect(message).to_contain_text("Insufficient Credits", timeout=WAIT_MS)
        await expect(message).to_contain_text("needs 4,000 credits; you have 1,920")
        assert (await total.inner_text()) == "1,920"

        await page.locator("#balance").click()
        details = page.locator("#details")
        await expect(details).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator("#lots tbody tr")).to_have_count(2, timeout=WAIT_MS)
        await expect(page.locator("#plan")).to_contain_text("Solo · 980 credits per month")
        await expect(page.locator("#history tbody tr").first).to_contain_text(
            "UseTool refused: Insufficient Credits", timeout=WAIT_MS
        )
        assert await page.evaluate("() => window.sameDocument") is True
        assert len(loads) == 1, loads  # the first load only

        await pay_for_a_package(page, "small", "Pay $50.00, test mode")
        await expect(total).to_have_text("2,920", timeout=WAIT_MS)
        assert await sidebar(page) == ("2,920", "920", "2,000")
        await expect(page.locator("#message")).to_contain_text("+1,000 purchased credits")

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        await page.reload()  # the token was kept for this tab
        await expect(total).to_have_text("2,920", timeout=WAIT_MS)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_auto_top_up_turned_on_in_the_page_buys_a_package_once_spending_crosses_it(
    served, backend
):
    url, _ = served
    async with browser_page() as page:
        await page.goto(f"{url}/#token=token-a")
        total = page.locator("#balance-total")
        await expect(total).to_have_text("1,980", timeout=WAIT_MS)

        await page.get_by_role("button", name="Save a card").click()
        await page.wait_for_url("**/test-payments/setups/seti_test_*", timeout=WAIT_MS)
        await page.get_by_role("button", name="Save test card ending 4242").click()
        await page.wait_for_url(lambda address: "/test-payments/" not in address, timeout=WAIT_MS)
        await expect(page.locator("#card-saved")).to_have_text("Card ending 4242.", timeout=WAIT_MS)
        await page.fill("#top-up-threshold", "1500")
        await page.select_option("#top-up-package", "small")
        await page.fill("#top-up-max", "2")
        await page.get_by_role("button", name="Turn on").click()
        status = page.locator("#top-up-status")
        await expect(status).to_contain_text("On: Small Package when credits fall below 1,500")

        await page.select_option("#tool", "article_generation")
        await page.fill("#units", "10")
        await page.get_by_role("button", name="Use tool").click()  # 1,480: below 1,500

        await expect(total).to_have_text("2,480", timeout=WAIT_MS)  # the package arrived
        assert await sidebar(page) == ("2,480", "480", "2,000")
        history = page.locator("#history tbody")
        await expect(history).to_contain_text(
            "Automatic top-up: Small Package asked at 1480 credits"
        )
        await expect(history.locator("tr").first).to_contain_text(
            "Bought Small Package (automatic top-up)", timeout=WAIT_MS
        )
        await expect(history.locator("tr").first).to_contain_text("2,480")
        await expect(status).not_to_contain_text("on its way", timeout=WAIT_MS)
        await page.screenshot(path=str(SCREENSHOT.with_name("auto-top-up.png")), full_page=True)


async def pay_for_a_package(page: Page, package: str, button: str) -> None:
    """Buy through the checkout: the page goes to the test provider's page, the payer pays
    there, the provider's signed webhook credits the package, and the page comes back."""
    await page.select_option("#package", package)
    await page.get_by_role("button", name="Buy package").click()
    await page.wait_for_url("**/test-payments/checkouts/cs_test_*", timeout=WAIT_MS)
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(lambda address: "/test-payments/" not in address, timeout=WAIT_MS)
    await expect(page.locator("#message")).to_contain_text("Payment received", timeout=WAIT_MS)
    assert "checkout=" not in page.url


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_new_account_starts_empty_opens_with_a_purchase_and_is_then_followed_live(
    served, backend
):
    url, env = served
    async with browser_page() as page:
        await page.goto(f"{url}/#token=token-b")  # acct-b has never had a credit
        total = page.locator("#balance-total")
        await expect(page.locator("#balance-note")).to_have_text(
            "No credits yet: buy a package to start.", timeout=WAIT_MS
        )

        await pay_for_a_package(page, "small", "Pay $50.00, test mode")
        await expect(total).to_have_text("1,000", timeout=WAIT_MS)
        await expect(page.locator("#live")).to_have_attribute("data-state", "on", timeout=WAIT_MS)
        await produce_from_another_process(env, "acct-b", "meta_description")

        await expect(total).to_have_text("998", timeout=WAIT_MS)
        assert await sidebar(page) == ("998", "0", "998")


def short(day: str) -> str:
    """A day as the page writes it: "Dec 21", or "Jan 1, 2027" in another year than today's."""
    on, today = date.fromisoformat(day), datetime.now(UTC).date()
    said = f"{on:%b} {on.day}"
    return said if on.year == today.year else f"{said}, {on.year}"


DRAWN_BARS = """() => [...document.querySelectorAll('#usage-chart rect.bar')].map((r) => [
  r.dataset.day, r.dataset.tool, Number(r.dataset.credits),
  Number(r.getAttribute('height')), r.getBoundingClientRect().height])"""


async def drawn_bars(page: Page) -> dict[tuple[str, str], tuple[int, float, float]]:
    bars = await page.evaluate(DRAWN_BARS)
    return {(day, tool): (credits, height, shown) for day, tool, credits, height, shown in bars}


async def charted_usage(http: httpx.AsyncClient, page: Page) -> dict[tuple[str, str], int]:
    """The usage API's figures for the days the chart covers, by (day, tool)."""
    chart = page.locator("#usage-chart svg")
    first, last = await chart.get_attribute("data-first"), await chart.get_attribute("data-last")
    query = {"from": first, "to": last, "by": "day"}
    days = (await http.get("/accounts/acct-demo/usage", params=query)).json()["days"]
    return {(d["day"], t): c for d in days for t, c in d["tools"].items() if c}


async def chart_matches_usage(http: httpx.AsyncClient, page: Page) -> dict[tuple[str, str], int]:
    """Wait until the chart's bars are the usage API's figures, and check they are drawn in
    proportion and visible; the figures."""
    for _ in range(WAIT_MS // 250):
        usage, bars = await charted_usage(http, page), await drawn_bars(page)
        if usage and {k: v[0] for k, v in bars.items()} == usage:
            break
        await asyncio.sleep(0.25)
    assert {k: v[0] for k, v in bars.items()} == usage
    per_credit = [height / credits for credits, height, _ in bars.values()]
    assert max(per_credit) - min(per_credit) < 0.01 * max(per_credit)
    assert all(shown > 0 for _, _, shown in bars.values())
    return usage


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_demo_accounts_details_chart_its_use_by_tool_and_forecast_the_run_out_live(
    served, backend, store_settings, tmp_path
):
    url, env = served
    outcomes = await demo.seed(api_settings(store_settings))
    assert all(o.status == "accepted" for o in outcomes) and len(outcomes) > 2
    async with (
        browser_page() as page,
        httpx.AsyncClient(base_url=url, headers=bearer(DEMO_TOKEN)) as http,
    ):
        await page.goto(f"{url}/#token={DEMO_TOKEN}")
        balance = page.locator("#balance")
        version = str(outcomes[-1].stream_version)
        await expect(balance).to_have_attribute("data-version", version, timeout=WAIT_MS)
        forecast = (await http.get("/accounts/acct-demo")).json()["forecast"]
        renews_on = date.fromisoformat(forecast["renews_on"])
        sidebar_says = f"Solo · renews {renews_on:%b} {renews_on.day}"  # the day, not its year
        await expect(page.locator("#balance-renews")).to_have_text(sidebar_says)
        renews = f"renews {short(forecast['renews_on'])}"
        await expect(page.locator("#history tbody tr").first).to_contain_text(
            "Keyword suggestions × 2", timeout=WAIT_MS
        )

        await balance.click()
        await expect(page.locator("#usage-chart svg")).to_be_visible(timeout=WAIT_MS)
        before = await chart_matches_usage(http, page)
        said = page.locator("#forecast")
        runs_out = f"subscription credits run out on {short(forecast['subscription_runs_out_on'])}"
        await expect(said).to_contain_text(f"{runs_out}; your plan {renews}.")
        await expect(said).to_contain_text("over the last 7 days")
        legend = page.locator("#usage-chart svg g.legend text")
        assert "Keyword suggestions" in await legend.all_text_contents()
        await take_a_screenshot(page, tmp_path / "usage.png")

        await produce_from_another_process(env, "acct-demo", "article_generation")
        today = datetime.now(UTC).date().isoformat()
        await expect(
            page.locator(
                f"#usage-chart rect.bar[data-day='{today}'][data-tool='article_generation']"
            )
        ).to_have_attribute(
            "data-credits", str(before.get((today, "article_generation"), 0) + 50), timeout=WAIT_MS
        )
        await chart_matches_usage(http, page)
        assert (
            await said.inner_text()
            == (await http.get("/accounts/acct-demo")).json()["forecast"]["summary"]
        )


async def take_a_screenshot(page: Page, path: Path) -> None:
    """A full-page PNG, checked to be one, kept in artifacts/ for a person to look at."""
    await page.screenshot(path=str(path), full_page=True)
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    INSIGHT_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    INSIGHT_SCREENSHOT.write_bytes(png)
