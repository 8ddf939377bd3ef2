"""Every command route against every scope, over fake ports: a token may send the commands of
its scope and nothing else (403), and an account token only ever to its own account."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.api.command_routes import ROUTES as COMMAND_ROUTES
from services.api.command_routes import STAMPED
from tests.every_kind import every_kind
from tests.unit.api.test_app import SETTINGS, client
from tests.unit.core.scenario import ACCOUNT

TOKENS = {"account": "tok-1", "workers": "svc", "billing": "bill", "support": "help"}
# One body for every command route, from the broker tests' command of every kind: a new
# command's route is tried against every scope without a line here.
EXAMPLES = {type(c): c for c, _ in every_kind(ACCOUNT, datetime(2026, 11, 1, tzinfo=UTC))}
ROUTES = {
    route.path: (
        EXAMPLES[route.command].model_dump(mode="json", exclude=set(STAMPED)),
        set(route.scopes),
    )
    for route in COMMAND_ROUTES
} | {"checkouts": ({"package": "small"}, {"account"})}
UNLIMITED = SETTINGS.model_copy(update={"api_commands_burst": 10_000})


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("scope", sorted(TOKENS))
async def test_a_command_is_sent_for_the_scopes_it_allows_and_is_403_for_every_other(route, scope):
    body, allowed = ROUTES[route]
    http, ledger = client(token=TOKENS[scope], settings=UNLIMITED)
    async with http:
        response = await http.post(f"/accounts/{ACCOUNT}/{route}", json=body)

    if scope in allowed:
        assert response.status_code in (200, 201), response.text
        assert len(ledger.sent) == (0 if route == "checkouts" else 1)
    else:
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
        assert ledger.sent == []


def test_an_account_token_may_only_use_tools_start_checkouts_and_set_its_auto_top_up():
    assert {path for path, (_, scopes) in ROUTES.items() if "account" in scopes} == {
        "tool-uses",
        "checkouts",
        "auto-top-up",
        "auto-top-up/off",
    }


@pytest.mark.parametrize("route", ["tool-uses", "checkouts", "auto-top-up", "auto-top-up/off"])
async def test_an_account_token_never_acts_on_another_account(route):
    http, ledger = client(token="tok-1", settings=UNLIMITED)
    async with http:
        response = await http.post(f"/accounts/acct-2/{route}", json=ROUTES[route][0])

    assert response.status_code == 403 and ledger.sent == []


async def test_an_account_token_cannot_add_purchased_credits_directly():
    http, ledger = client(token="tok-1")
    async with http:
        response = await http.post(
            f"/accounts/{ACCOUNT}/packages", json={"package": "large", "payment_ref": "pi_free"}
        )

    assert response.status_code == 403 and ledger.sent == []


@pytest.mark.parametrize("scope", sorted(TOKENS))
async def test_every_scope_reads_what_it_may_and_me_names_the_scope(scope):
    http, _ = client(token=TOKENS[scope])
    async with http:
        own = await http.get(f"/accounts/{ACCOUNT}/balance")
        other = await http.get("/accounts/acct-2/balance")
        me = (await http.get("/me")).json()

    assert own.status_code == 200
    assert other.status_code == (403 if scope == "account" else 404)
    assert me["scope"] == scope and me["service"] is (scope != "account")
