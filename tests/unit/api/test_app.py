"""The app over fake ports (no Kafka, no database): routing, auth order, statuses, documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from events.commands import Command
from events.outcomes import BalanceFigures, Outcome
from projections.finance import Period
from projections.finance_report import report
from services.api.app import create_app
from services.api.command_routes import ROUTES
from services.api.hub import BalanceHub
from services.api.ports import Ports
from services.api.settings import ApiSettings
from services.client import LedgerTimeout
from tests.unit.api.accounts import account_after, page
from tests.unit.core.scenario import ACCOUNT, CATALOG, bought, renewed

SETTINGS = ApiSettings(
    api_service_tokens={
        SecretStr("svc"): "workers",
        SecretStr("bill"): "billing",
        SecretStr("help"): "support",
    },
    api_account_tokens={SecretStr("tok-1"): ACCOUNT, SecretStr("tok-2"): "acct-2"},
    payments_webhook_secret=SecretStr("whsec_unit"),
)
FIGURES = BalanceFigures(subscription=10, purchased=30, granted=0, held=0, total=40)


class FakeReads:
    """One opened account (Solo and a small package); every other account is unknown."""

    def __init__(self) -> None:
        self.opened, self.log = account_after(renewed("solo"), bought("small"))

    async def view(self, account_id: str):
        return self.opened if account_id == ACCOUNT else None

    async def views(self, account_ids: list[str]):
        return {ACCOUNT: self.opened} if ACCOUNT in account_ids else {}

    async def history(self, account_id: str, upto: int, offset: int, limit: int):
        return page(self.log, upto, offset, limit) if account_id == ACCOUNT else []

    async def usage(self, account_id: str, first: date, last: date):
        """Ten credits of keyword suggestions and fifty of an article each day."""
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return [
            row
            for day in days
            for row in (
                (day.isoformat(), "keyword_suggestions", 10, 10),
                (day.isoformat(), "article_generation", 1, 50),
            )
        ]

    async def finance(self, first: str, last: str):
        return report(
            [
                (
                    ACCOUNT,
                    Period(first, bought=1000, bought_cents=5000, closing=1000, closing_cents=5000),
                )
            ],
            first,
            last,
        )


class FakeLedger:
    def __init__(self, answer: Callable[[Command], Outcome]) -> None:
        self.answer = answer
        self.sent: list[Command] = []

    async def submit(self, command: Command) -> Outcome:
        self.sent.append(command)
        return self.answer(command)


def fake_ports(ledger: FakeLedger) -> Ports:
    reads = FakeReads()
    return Ports(reads=reads, ledger=ledger, hub=BalanceHub(10, reads), catalog=CATALOG)


def outcome(command: Command, **fields) -> Outcome:
    return Outcome(
        command_id=command.command_id,
        account_id=command.account_id,
        command_type=command.type,
        balance=FIGURES,
        stream_version=3,
        **{"status": "accepted", **fields},
    )


def raises(error: Exception) -> Callable[[Command], Outcome]:
    def answer(_: Command) -> Outcome:
        raise error

    return answer


def client(
    answer: Callable[[Command], Outcome] = outcome,
    token: str | None = "tok-1",
    settings: ApiSettings = SETTINGS,
):
    ledger = FakeLedger(answer)
    ports = fake_ports(ledger)
    app = create_app(settings, ports=ports)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
    )
    return http, ledger


async def test_the_page_is_served_at_the_root_with_headers_that_keep_its_token_in_the_tab():
    http, _ = client(token=None)
    async with http:
        page = await http.get("/")
        script = await http.get("/static/app.js")

    assert page.status_code == 200 and "Credit balance" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert script.status_code == 200 and "sessionStorage" in script.text


async def test_the_openapi_document_lists_every_endpoint_and_the_bearer_scheme():
    http, _ = client(token=None)
    async with http:
        spec = (await http.get("/openapi.json")).json()
        docs = await http.get("/docs")

    assert set(spec["paths"]) == {
        "/accounts/{account_id}/balance",
        "/accounts/{account_id}",
        "/accounts/{account_id}/history",
        "/accounts/{account_id}/usage",
        "/accounts/{account_id}/usage/chart",
        "/finance/report",
        "/accounts/{account_id}/balance/stream",
        "/accounts/{account_id}/alerts/stream",
        "/accounts/{account_id}/checkouts",
        "/accounts/{account_id}/card-setups",
        "/webhooks/payments",
        "/catalog/tools",
        "/catalog/plans",
        "/catalog/packages",
        "/me",
    } | {f"/accounts/{{account_id}}/{route.path}" for route in ROUTES}
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "402" in spec["paths"]["/accounts/{account_id}/tool-uses"]["post"]["responses"]
    assert docs.status_code == 200


@pytest.mark.parametrize("path", ["/catalog/tools", "/catalog/plans", "/catalog/packages"])
async def test_the_catalog_needs_a_token_and_lists_the_offers(path):
    anonymous, _ = client(token=None)
    http, _ = client()
    async with anonymous, http:
        refused = await anonymous.get(path)
        listed = await http.get(path)

    assert refused.status_code == 401
    assert listed.status_code == 200 and listed.json()["version"] == CATALOG.version


async def test_the_token_is_checked_before_the_id_and_the_id_before_access():
    anonymous, _ = client(token=None)
    other, _ = client(token="tok-2")
    async with anonymous, other:
        statuses = [
            (await anonymous.get("/accounts/bad%20id/balance")).status_code,
            (await other.get("/accounts/bad%20id/balance")).status_code,
            (await other.get(f"/accounts/{ACCOUNT}/balance")).status_code,
            (await other.get("/accounts/acct-nobody/balance")).status_code,
        ]

    assert statuses == [401, 422, 403, 403]


async def test_reads_answer_404_for_an_account_never_opened():
    http, _ = client(token="svc")
    async with http:
        known = await http.get(f"/accounts/{ACCOUNT}/balance")
        unknown = await http.get("/accounts/acct-2/balance")

    assert (known.status_code, known.json()["total"]) == (200, 1980)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_account")


async def test_a_refused_use_is_402_with_the_figures():
    refuse = lambda c: outcome(  # noqa: E731
        c,
        status="refused",
        code="insufficient_credits",
        message="Insufficient Credits",
        details={"required": 50, "available": 40},
    )
    http, ledger = client(refuse)
    async with http:
        response = await http.post(
            f"/accounts/{ACCOUNT}/tool-uses", json={"tool": "image_generation"}
        )

    assert response.status_code == 402
    assert response.json()["message"] == "Insufficient Credits"
    assert response.json()["details"] == {"required": 50, "available": 40}
    assert [c.type for c in ledger.sent] == ["UseTool"]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (LedgerTimeout("no outcome"), 504, "ledger_timeout"),
        (KafkaConnectionError("down"), 503, "ledger_unavailable"),
    ],
)
async def test_a_ledger_that_does_not_answer_is_a_gateway_error_naming_the_command(
    failure, status, code
):
    http, ledger = client(raises(failure))
    async with http:
        response = await http.post(
            f"/accounts/{ACCOUNT}/tool-uses",
            json={"tool": "meta_description"},
            headers={"Idempotency-Key": "k-1"},
        )

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["command_id"] == ledger.sent[0].command_id


async def test_a_name_the_catalog_does_not_know_never_reaches_the_ledger():
    http, ledger = client()
    async with http:
        response = await http.post(f"/accounts/{ACCOUNT}/tool-uses", json={"tool": "mind_reading"})

    assert (response.status_code, response.json()["code"]) == (422, "unknown_tool")
    assert ledger.sent == []


async def test_usage_by_tool_names_each_tool_as_the_catalog_does_most_credits_first():
    http, _ = client()
    async with http:
        got = await http.get(f"/accounts/{ACCOUNT}/usage?from=2026-11-01&to=2026-11-07&by=tool")

    assert got.status_code == 200
    assert [(t["name"], t["uses"], t["credits"]) for t in got.json()["tools"]] == [
        ("Full article generation", 7, 350),
        ("Keyword suggestions", 70, 70),
    ]


async def test_usage_by_day_lists_every_day_split_by_tool():
    http, _ = client()
    async with http:
        got = await http.get(f"/accounts/{ACCOUNT}/usage?from=2026-11-01&to=2026-11-03&by=day")

    days = got.json()["days"]
    assert [d["day"] for d in days] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert days[0]["tools"] == {"keyword_suggestions": 10, "article_generation": 50}


async def test_a_usage_range_that_ends_before_it_starts_is_refused_clearly():
    http, _ = client()
    async with http:
        got = await http.get(f"/accounts/{ACCOUNT}/usage?from=2026-11-03&to=2026-11-01")

    assert (got.status_code, got.json()["code"]) == (422, "invalid_range")


async def test_the_details_say_at_this_pace_when_the_credits_run_out_and_on_what_pace():
    http, _ = client()
    async with http:
        forecast = (await http.get(f"/accounts/{ACCOUNT}")).json()["forecast"]

    assert (forecast["window_days"], forecast["used_credits"]) == (7, 420)
    assert forecast["all_credits_run_out_on"] is not None
    assert "Pace: 420 credits over the last 7 days, 60 a day." in forecast["summary"]


async def test_the_usage_chart_is_svg_whose_bars_are_the_usage_of_each_day_and_tool():
    http, _ = client()
    async with http:
        chart = await http.get(f"/accounts/{ACCOUNT}/usage/chart?from=2026-11-01&to=2026-11-03")
        other = await http.get("/accounts/acct-2/usage/chart")
        backwards = await http.get(f"/accounts/{ACCOUNT}/usage/chart?from=2026-11-03&to=2026-11-01")

    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert chart.text.count('class="bar"') == 6  # two tools on each of three days
    assert 'data-day="2026-11-02" data-tool="article_generation" data-credits="50"' in chart.text
    assert (other.status_code, backwards.status_code) == (403, 422)


async def test_the_usage_chart_covers_the_whole_cycle_by_default():
    http, _ = client()
    async with http:
        chart = await http.get(f"/accounts/{ACCOUNT}/usage/chart")

    assert 'data-first="2026-11-01"' in chart.text and 'data-last="2026-11-30"' in chart.text


async def test_the_finance_report_is_for_billings_token_only():
    for token, status in (("tok-1", 403), ("help", 403), ("bill", 200)):
        http, _ = client(token=token)
        async with http:
            got = await http.get("/finance/report?from=2026-11&to=2026-11")
        assert got.status_code == status, token

    assert got.json()["total"]["closing_cents"] == 5000 and got.json()["from"] == "2026-11"


async def test_a_finance_month_that_is_not_a_month_is_refused():
    http, _ = client(token="bill")
    async with http:
        got = await http.get("/finance/report?from=2026-13&to=2026-11")

    assert got.status_code == 422


def _calls(dependant) -> list:
    calls = [dependant.call] if dependant.call is not None else []
    for sub in dependant.dependencies:
        calls += _calls(sub)
    return calls


def test_no_dependency_of_any_route_runs_in_a_worker_thread():
    """FastAPI runs a plain ``def`` dependency in the thread pool: a thread hand-off per
    request, and a queue for its 40 places when thousands of balance streams open at once
    (the settings, ports and limits were such, about a fifth of a stream's opening)."""
    import inspect

    from fastapi.routing import APIRoute

    app = create_app(SETTINGS)
    blocking = {
        f"{route.path}: {getattr(call, '__name__', call)}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for dependency in route.dependant.dependencies
        for call in _calls(dependency)
        if not (
            inspect.iscoroutinefunction(call)
            or inspect.isasyncgenfunction(call)
            or inspect.iscoroutinefunction(type(call).__call__)  # a class instance (HTTPBearer)
        )
    }

    assert blocking == set()
