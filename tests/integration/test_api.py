"""The HTTP API on the real broker, one test body over SQLite and PostgreSQL: the ledger and the
projector run, the API is served by uvicorn, and every call goes over HTTP with a real token."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

from events.commands import ReserveCredits
from services.payments.signature import HEADER, sign
from tests.integration.conftest_api import (  # noqa: F401  (api_fixture: the api fixture)
    BILLING_TOKEN,
    NOW,
    SERVICE_TOKEN,
    SUPPORT_TOKEN,
    WEBHOOK_SECRET,
    api_fixture,
    bearer,
    open_account,
    running_api,
    sse_events,
)
from tests.integration.conftest_projections import folded

BAD_IDS = ["bad%20id", "x" * 129, "acct%3Bdrop"]


async def test_the_sidebar_shows_the_total_and_the_split_of_subscription_and_purchased(
    api, client, projector
):
    version = await open_account(client, "acct-a")
    await folded(projector, "acct-a", version)

    async with api.client("token-a") as http:
        response = await http.get("/accounts/acct-a/balance")

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["subscription"], body["purchased"]) == (1980, 980, 1000)
    assert (body["version"], body["plan"], body["held"]) == (version, "solo", 0)
    assert body["cycle_end"] == (NOW + timedelta(days=29)).isoformat().replace("+00:00", "Z")


async def test_the_details_show_plan_renewal_lots_in_drawdown_order_holds_and_recent_activity(
    api, client, projector
):
    await open_account(client, "acct-a")
    await client.use_tool("acct-a", "article_generation")
    reserve = ReserveCredits(
        command_id="hold-1",
        account_id="acct-a",
        occurred_at=NOW + timedelta(minutes=1),
        hold_id="job-1",
        tool="image_generation",
        units=1,
        expires_at=NOW + timedelta(hours=1),
    )
    version = (await client.execute(reserve)).stream_version
    await folded(projector, "acct-a", version)

    async with api.client("token-a") as http:
        details = (await http.get("/accounts/acct-a")).json()

    assert details["balance"] == {
        "subscription": 890,
        "purchased": 1000,
        "granted": 0,
        "held": 40,
        "total": 1890,
    }
    assert details["plan"]["name"] == "Solo" and details["plan"]["credits_per_cycle"] == 980
    assert details["renewal_date"] == details["subscription_expires_at"]
    assert [(lot["kind"], lot["remaining"]) for lot in details["lots"]] == [
        ("subscription", 890),
        ("purchased", 1000),
    ]
    assert [(h["hold_id"], h["credits"]) for h in details["holds"]] == [("job-1", 40)]
    assert [e["event"] for e in details["recent"]] == [
        "CreditsReserved",
        "ToolUsed",
        "PackagePurchased",
        "CycleStarted",
    ]
    assert [e["total"] for e in details["recent"]] == [1890, 1930, 1980, 980]


async def test_history_pages_newest_first_with_the_running_balance_and_checks_its_bounds(
    api, client, projector
):
    await open_account(client, "acct-a")
    for _ in range(3):
        used = await client.use_tool("acct-a", "content_analysis")
    await folded(projector, "acct-a", used.stream_version)  # the history is as of the balance

    async with api.client("token-a") as http:
        first = (await http.get("/accounts/acct-a/history", params={"limit": 2})).json()
        last = (await http.get("/accounts/acct-a/history?offset=4&limit=2")).json()
        beyond = (await http.get("/accounts/acct-a/history?offset=5")).json()
        largest = await http.get("/accounts/acct-a/history?limit=100")
        out_of_bounds = [
            (await http.get(f"/accounts/acct-a/history?{query}")).status_code
            for query in ("limit=0", "limit=101", "offset=-1", "limit=two", "offset=10000001")
        ]

    assert first["total"] == 5
    assert [(e["version"], e["what"], e["total"]) for e in first["entries"]] == [
        (5, "Content analysis × 1", 1950),
        (4, "Content analysis × 1", 1960),
    ]
    assert [(e["version"], e["event"], e["total"]) for e in last["entries"]] == [
        (1, "CycleStarted", 980)
    ]
    assert beyond["entries"] == [] and beyond["total"] == 5
    assert largest.status_code == 200 and len(largest.json()["entries"]) == 5
    assert out_of_bounds == [422] * 5


async def test_unknown_accounts_are_404_and_bad_ids_are_422_on_every_account_endpoint(api):
    async with api.client() as http:
        unknown = [
            (await http.get(path)).status_code
            for path in (
                "/accounts/acct-nobody/balance",
                "/accounts/acct-nobody",
                "/accounts/acct-nobody/history",
                "/accounts/acct-nobody/balance/stream",
            )
        ]
        use = await http.post("/accounts/acct-nobody/tool-uses", json={"tool": "meta_description"})
        bad = [
            (await http.request(method, f"/accounts/{bad_id}{suffix}", json=body)).status_code
            for bad_id in BAD_IDS
            for method, suffix, body in (
                ("GET", "/balance", None),
                ("GET", "", None),
                ("GET", "/history", None),
                ("GET", "/balance/stream", None),
                ("POST", "/tool-uses", {"tool": "meta_description"}),
                ("POST", "/holds", {"hold_id": "h"}),
            )
        ]

    assert unknown == [404] * 4
    assert (use.status_code, use.json()["code"]) == (404, "unknown_account")
    assert bad == [422] * len(bad)


async def test_an_account_that_was_only_ever_refused_is_still_unknown(api):
    async with api.client("token-b") as http:
        refused = await http.post("/accounts/acct-b/tool-uses", json={"tool": "meta_description"})
        history = await http.get("/accounts/acct-b/history")

    assert refused.status_code == 404
    assert history.status_code == 404


async def test_tokens_let_an_account_see_only_itself_and_the_service_see_everyone(
    api, client, projector
):
    await folded(projector, "acct-a", await open_account(client, "acct-a"))
    paths = ["/accounts/acct-a/balance", "/accounts/acct-a", "/accounts/acct-a/history"]
    async with api.client(token=None) as http:
        missing = [await http.get(path) for path in [*paths, "/catalog/tools", "/me"]]
        wrong = [
            (await http.get(path, headers=headers)).status_code
            for path in paths
            for headers in (bearer("not-a-token"), {"Authorization": "Basic dG9rZW4tYQ=="})
        ]
        other = [
            (await http.request(method, path, headers=bearer("token-b"), json=body)).status_code
            for method, path, body in (
                *(("GET", path, None) for path in paths),
                ("GET", "/accounts/acct-a/balance/stream", None),
                ("GET", "/accounts/acct-nobody/balance", None),
                ("POST", "/accounts/acct-a/tool-uses", {"tool": "meta_description"}),
                ("POST", "/accounts/acct-a/checkouts", {"package": "small"}),
                ("POST", "/accounts/acct-a/packages", {"package": "small", "payment_ref": "p"}),
            )
        ]
        me_b = (await http.get("/me", headers=bearer("token-b"))).json()
    async with api.client() as service:
        everyone = [(await service.get(path)).status_code for path in paths]
        me_service = (await service.get("/me")).json()

    assert {r.status_code for r in missing} == {401}
    assert all(r.headers["www-authenticate"] == "Bearer" for r in missing)
    assert wrong == [401] * len(wrong)
    assert other == [403] * len(other)
    assert everyone == [200] * len(paths)
    assert me_b == {"account_id": "acct-b", "service": False, "scope": "account"}
    assert me_service == {"account_id": None, "service": True, "scope": "workers"}


async def test_using_a_tool_over_http_charges_subscription_first_and_a_retry_is_a_repeat(
    api, client
):
    await open_account(client, "acct-a")
    key = {"Idempotency-Key": "click-1"}
    async with api.client("token-a") as http:
        first = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "article_generation"}, headers=key
        )
        again = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "article_generation"}, headers=key
        )

    assert first.status_code == 200
    outcome = first.json()
    assert (outcome["status"], outcome["command_type"]) == ("accepted", "UseTool")
    assert [(d["kind"], d["credits"]) for d in outcome["charged"]] == [("subscription", 50)]
    assert outcome["balance"]["subscription"] == 930 and outcome["balance"]["purchased"] == 1000
    assert again.status_code == 200
    assert again.json()["repeat"] is True
    assert again.json()["command_id"] == outcome["command_id"]
    assert again.json()["balance"]["total"] == 1930


async def test_insufficient_credits_is_402_with_the_figures_and_nothing_is_charged(
    api, client, projector
):
    await open_account(client, "acct-a", package=None)
    async with api.client("token-a") as http:
        refused = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "image_generation", "units": 30}
        )
        await folded(projector, "acct-a", 2)
        after = (await http.get("/accounts/acct-a/balance")).json()

    assert refused.status_code == 402
    problem = refused.json()
    assert (problem["code"], problem["message"]) == ("insufficient_credits", "Insufficient Credits")
    assert problem["details"] == {
        "required": 1200,
        "available": 980,
        "subscription": 980,
        "purchased": 0,
        "granted": 0,
    }
    assert problem["balance"]["total"] == 980 and problem["command_id"]
    assert after["total"] == 980 and after["version"] == 2


async def test_billing_adds_a_package_over_http_and_an_account_token_cannot(api, client):
    await open_account(client, "acct-a", package=None)
    async with api.client(BILLING_TOKEN) as billing, api.client("token-a") as http:
        taken = await http.post(
            "/accounts/acct-a/packages", json={"package": "large", "payment_ref": "pi_free"}
        )
        bought = await billing.post(
            "/accounts/acct-a/packages",
            json={"package": "medium", "payment_ref": "pi_1"},
            headers={"Idempotency-Key": "buy-1"},
        )
        same_payment = await billing.post(
            "/accounts/acct-a/packages", json={"package": "small", "payment_ref": "pi_1"}
        )
        malformed = [
            (await caller.post(f"/accounts/acct-a/{path}", json=body)).json()
            for caller, path, body in (
                (billing, "packages", {"package": "huge", "payment_ref": "pi_2"}),
                (http, "tool-uses", {"tool": "mind_reading"}),
                (http, "tool-uses", {"tool": "meta_description", "units": 0}),
                (http, "tool-uses", {"tool": "meta_description", "colour": "red"}),
                (billing, "packages", {"payment_ref": "pi_3"}),
            )
        ]

    assert (taken.status_code, taken.json()["code"]) == (403, "forbidden")
    assert bought.status_code == 200
    assert bought.json()["balance"] == {
        "subscription": 980,
        "purchased": 5000,
        "granted": 0,
        "held": 0,
        "total": 5980,
    }
    assert (same_payment.status_code, same_payment.json()["code"]) == (409, "duplicate_payment")
    assert [m.get("code") for m in malformed[:2]] == ["unknown_package", "unknown_tool"]
    assert [m["code"] for m in malformed[2:]] == ["invalid_request"] * 3
    assert [m["errors"][0]["loc"] for m in malformed[2:]] == [
        ["body", "units"],
        ["body", "colour"],
        ["body", "package"],
    ]


async def test_an_account_buys_only_through_a_checkout_paid_at_the_provider(api, client, projector):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    async with api.client("token-a") as http:
        checkout = (await http.post("/accounts/acct-a/checkouts", json={"package": "small"})).json()
        before = (await http.get("/accounts/acct-a/history")).json()["total"]
        page = await http.get(checkout["pay_url"])
        paid = await http.post(f"{checkout['pay_url']}/pay", follow_redirects=False)
        again = await http.post(f"{checkout['pay_url']}/pay", follow_redirects=False)
        history = await stored(http, "acct-a", "PackagePurchased")
        refunded = await http.post(f"{checkout['pay_url']}/chargeback")
        after = await stored(http, "acct-a", "PackageRefunded")
        reported = (await http.get("/test-payments/events")).json()

    assert (checkout["price_cents"], before) == (5000, 1)  # a checkout credits nothing
    assert "Pay $50.00, test mode" in page.text
    assert paid.status_code == again.status_code == 303
    assert paid.headers["location"] == f"/?checkout={checkout['checkout_id']}"
    bought = [e for e in history["entries"] if e["event"] == "PackagePurchased"]
    assert len(bought) == 1 and bought[0]["purchased_change"] == 1000  # paid twice, bought once
    assert history["entries"][0]["total"] == 1980
    assert refunded.json()["delivered"] is True
    assert after["entries"][0]["event"] == "PackageRefunded"
    assert after["entries"][0]["total"] == 980
    assert [e["type"] for e in reported] == [
        "payment.succeeded",
        "payment.succeeded",
        "payment.disputed",
    ]  # the provider's record, whatever the API answered


async def stored(http, account_id: str, event: str) -> dict:
    """The account's history once its latest event is ``event`` (the history is the read
    model's, which trails the ledger's outcome by a moment)."""
    async with asyncio.timeout(20):
        while True:
            history = (await http.get(f"/accounts/{account_id}/history")).json()
            if history["entries"] and history["entries"][0]["event"] == event:
                return history
            await asyncio.sleep(0.05)


def webhook(kind: str, payment_ref: str, account_id: str = "acct-a") -> bytes:
    data = {
        "checkout_id": "cs_order",
        "payment_ref": payment_ref,
        "account_id": account_id,
        "package": "small",
        "amount_cents": 5000,
        "currency": "USD",
    }
    return json.dumps({"id": f"evt_{kind}", "type": kind, "created": 1, "data": data}).encode()


async def test_a_refund_delivered_before_its_success_leaves_no_credits_bought(
    api, client, projector
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    refund, success = (
        webhook("payment.refunded", "pi_early"),
        webhook("payment.succeeded", "pi_early"),
    )
    async with api.client(token=None) as provider, api.client("token-a") as http:
        before = (await http.get("/accounts/acct-a/history")).json()["entries"][0]["total"]
        answers = [
            await provider.post(
                "/webhooks/payments",
                content=body,
                headers={HEADER: sign(WEBHOOK_SECRET, int(time.time()), body)},
            )
            for body in (refund, success)
        ]
        history = await stored(http, "acct-a", "PurchaseReversed")

    assert [(a.status_code, a.json()["status"]) for a in answers] == [(200, "accepted")] * 2
    events = [e["event"] for e in history["entries"][:3]]
    assert events == ["PurchaseReversed", "PackagePurchased", "PaymentReversed"]
    assert history["entries"][0]["total"] == before  # the refunded money bought nothing


async def test_a_webhook_without_a_valid_signature_buys_nothing(api, client, projector):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    body = json.dumps(
        {
            "id": "evt_forged",
            "type": "payment.succeeded",
            "created": 1,
            "data": {
                "checkout_id": "cs_x",
                "payment_ref": "pi_forged",
                "account_id": "acct-a",
                "package": "large",
                "amount_cents": 50000,
                "currency": "USD",
            },
        }
    ).encode()
    async with api.client(token=None) as anyone, api.client("token-a") as http:
        forged = await anyone.post(
            "/webhooks/payments",
            content=body,
            headers={HEADER: sign("whsec_guess", int(time.time()), body)},
        )
        replayed = await anyone.post(
            "/webhooks/payments",
            content=body,
            headers={HEADER: sign(WEBHOOK_SECRET, int(time.time()) - 3600, body)},
        )
        history = (await http.get("/accounts/acct-a/history")).json()

    assert (forged.status_code, forged.json()["code"]) == (400, "invalid_signature")
    assert (replayed.status_code, replayed.json()["code"]) == (400, "invalid_signature")
    assert history["total"] == 1


async def test_every_scope_sends_its_own_commands_over_http(api, client):
    await open_account(client, "acct-a")
    later = (NOW + timedelta(hours=1)).isoformat()
    async with (
        api.client(SERVICE_TOKEN) as workers,
        api.client(BILLING_TOKEN) as billing,
        api.client(SUPPORT_TOKEN) as support,
    ):
        held = await workers.post(
            "/accounts/acct-a/holds",
            json={"hold_id": "job-1", "tool": "image_generation", "units": 1, "expires_at": later},
        )
        settled = await workers.post(
            "/accounts/acct-a/hold-settlements", json={"hold_id": "job-1", "credits": 30}
        )
        granted = await support.post(
            "/accounts/acct-a/grants", json={"credits": 200, "reason": "outage apology"}
        )
        upgraded = await billing.post("/accounts/acct-a/plan-changes", json={"plan": "agency"})
        not_theirs = await support.post(
            "/accounts/acct-a/tool-uses", json={"tool": "meta_description"}
        )

    assert [r.status_code for r in (held, settled, granted, upgraded)] == [200] * 4
    assert settled.json()["balance"]["total"] == 1980 - 30
    assert granted.json()["balance"]["granted"] == 200
    assert upgraded.json()["command_type"] == "ChangePlan"
    assert not_theirs.status_code == 403


async def test_an_idempotency_key_names_one_request_in_every_api_process(
    api, client, store_settings
):
    await open_account(client, "acct-a")
    key = {"Idempotency-Key": "click-1"}
    async with api.client("token-a") as http:
        first = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "meta_description"}, headers=key
        )
        other_body = await http.post(
            "/accounts/acct-a/tool-uses", json={"tool": "article_generation"}, headers=key
        )
        other_path = await http.post(
            "/accounts/acct-a/checkouts", json={"package": "large"}, headers=key
        )
    async with (
        running_api(store_settings) as another,  # another process, or this one restarted
        another.client("token-a") as elsewhere,
        another.client(BILLING_TOKEN) as billing,
    ):
        repeat = await elsewhere.post(
            "/accounts/acct-a/tool-uses", json={"tool": "meta_description"}, headers=key
        )
        other_command = await billing.post(
            "/accounts/acct-a/packages",
            json={"package": "large", "payment_ref": "pi_9"},
            headers=key,
        )

    assert first.status_code == 200
    assert (repeat.status_code, repeat.json()["repeat"]) == (200, True)
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    assert (other_command.status_code, other_command.json()["code"]) == (
        422,
        "idempotency_key_reused",
    )
    assert other_path.status_code == 201  # checkouts are not commands: no key is bound


async def test_commands_per_account_are_rate_limited_with_retry_after(store_settings, ledger):
    async with (
        running_api(
            store_settings, api_commands_burst=2, api_commands_per_account_per_s=0.2
        ) as lone,
        lone.client("token-b") as http,
    ):
        answers = [
            await http.post("/accounts/acct-b/tool-uses", json={"tool": "meta_description"})
            for _ in range(3)
        ]

    assert [a.status_code for a in answers] == [404, 404, 429]  # refusals count too
    assert answers[2].headers["retry-after"] == "5"


async def test_bodies_over_the_cap_are_413_and_streams_per_token_are_capped(
    api, client, store_settings
):
    await open_account(client, "acct-a")
    big = {"tool": "x" * 20_000}
    path = "/accounts/acct-a/balance/stream"
    async with (
        running_api(store_settings, api_streams_per_token=1) as lone,
        lone.client(token=None) as anyone,
        lone.client("token-a") as http,
    ):
        too_large = await anyone.post("/accounts/acct-a/tool-uses", json=big)
        async with http.stream("GET", path) as first:
            assert first.status_code == 200
            second = await http.get(path)
        async with asyncio.timeout(10):  # the server sees the client leave a moment later
            while lone.ports.hub.streams("acct-a"):
                await asyncio.sleep(0.01)
        async with http.stream("GET", path) as after_close:
            reopened = after_close.status_code

    assert (too_large.status_code, too_large.json()["code"]) == (413, "body_too_large")
    assert (second.status_code, second.json()["code"]) == (429, "too_many_streams")
    assert reopened == 200


async def test_the_stream_sends_the_current_balance_then_every_newer_one_from_any_producer(
    api, client, projector
):
    version = await open_account(client, "acct-a")
    await folded(projector, "acct-a", version)
    path = "/accounts/acct-a/balance/stream"

    async with (
        api.client("token-a") as http,
        api.client() as service,
        http.stream("GET", path) as mine,
        service.stream("GET", path) as support,
    ):
        assert mine.headers["content-type"].startswith("text/event-stream")
        streams = [sse_events(mine), sse_events(support)]
        firsts = [await anext(s) for s in streams]
        assert api.ports.hub.streams("acct-a") == 2
        used = await client.use_tool("acct-a", "article_generation")  # another producer
        updates = []
        for stream in streams:
            update = await anext(stream)
            while update["version"] < used.stream_version:
                update = await anext(stream)
            updates.append(update)

    assert [(f["version"], f["total"]) for f in firsts] == [(version, 1980)] * 2
    assert [(u["version"], u["total"], u["subscription"]) for u in updates] == [
        (used.stream_version, 1930, 930)
    ] * 2
    async with asyncio.timeout(10):  # closed streams are unsubscribed
        while api.ports.hub.streams("acct-a"):
            await asyncio.sleep(0.02)


async def test_a_command_the_ledger_does_not_answer_in_time_is_504_with_its_command_id(
    store_settings,
):
    async with (
        running_api(store_settings, api_ledger_timeout_s=0.5) as lone,  # and no ledger runs
        lone.client("token-a") as http,
    ):
        response = await http.post(
            "/accounts/acct-a/tool-uses",
            json={"tool": "meta_description"},
            headers={"Idempotency-Key": "k-1"},
        )

    assert response.status_code == 504
    assert response.json()["code"] == "ledger_timeout"
    assert response.json()["command_id"].startswith("http-")
