"""``credits payments reconcile`` through the real broker, on both stores: the test provider's
record (read from the running API) against the ledger's index and log. A paid checkout is
credited, one paid at another price is parked, one whose webhook never reached the API is
MISSING, and a purchase credited as if by a webhook the provider never sent is a credit without
payment; billing's own purchase is another source. The command exits 1 for a cron."""

from __future__ import annotations

import asyncio
import json
import uuid

from typer.testing import CliRunner

from events.commands import BuyPackage
from services.api.routes.checkouts import success_command_id
from services.cli import app
from services.payments.model import PaymentEvent
from services.payments.testmode import TestPaymentProvider
from services.settings import Settings
from tests.integration.conftest_api import NOW, api_fixture, open_account  # noqa: F401
from tests.integration.conftest_projections import folded


def credits(settings: Settings, api_url: str, *args: str) -> tuple[int, str]:
    host, port = api_url.removeprefix("http://").split(":")
    env = {
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
        "KALEMA_API_HOST": host,
        "KALEMA_API_PORT": port,
        "KALEMA_PAYMENTS_PROVIDER": "test",
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout


async def test_a_lost_webhook_a_parked_payment_and_a_credit_without_payment_are_each_reported(
    store_settings, api, projector, client
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    billing = await client.execute(bought("billing-buys-1", "inv-acct-a-1"))
    forged = await client.execute(bought(success_command_id("pi_test_forged"), "pi_test_forged"))
    provider: TestPaymentProvider = api.app.state.payments
    async with api.client("token-a") as http:
        credited, parked, lost = [await paid_checkout(http, provider) for _ in range(3)]
    for checkout_id, body in (
        (credited, provider.event("payment.succeeded", credited)),
        (parked, at_another_price(provider.event("payment.succeeded", parked), 4000)),
    ):
        answer = await provider.deliver(api.url, body)
        assert answer.status_code == 200, (checkout_id, answer.text)
    # The provider took the third payment; its webhook never reached the API.
    provider.reported.append(
        PaymentEvent.model_validate_json(provider.event("payment.succeeded", lost))
    )

    code, out = await reconciled(store_settings, api.url, "--format", "json")
    table_code, table = await reconciled(store_settings, api.url)

    assert (billing.status, forged.status) == ("accepted", "accepted")
    rows = {row["payment_ref"]: row for row in json.loads(out)}
    ref_of = {c: provider.checkouts[c][1] for c in (credited, parked, lost)}
    assert [(rows[ref_of[c]]["ledger"], rows[ref_of[c]]["verdict"]) for c in ref_of] == [
        ("credited", "ok"),
        ("parked: paid, not credited", "PAID NOT CREDITED"),
        ("nothing", "MISSING"),
    ]
    assert rows["pi_test_forged"]["verdict"] == "CREDIT WITHOUT PAYMENT"
    assert rows["inv-acct-a-1"]["verdict"] == "other source"
    assert len(rows) == 5
    assert rows[ref_of[credited]]["account_id"] == "acct-a"
    assert code == table_code == 1
    assert "MISSING" in table and table.splitlines()[-1] == "3 problem(s) in 5 rows"


async def test_a_ledger_that_agrees_with_the_provider_exits_0(
    store_settings, api, projector, client
):
    await folded(projector, "acct-a", await open_account(client, "acct-a", package=None))
    provider: TestPaymentProvider = api.app.state.payments
    async with api.client("token-a") as http:
        checkout_id = await paid_checkout(http, provider)
    answer = await provider.deliver(api.url, provider.event("payment.succeeded", checkout_id))

    code, out = await reconciled(store_settings, api.url, "--format", "csv")

    assert answer.status_code == 200
    header, row = out.splitlines()
    assert header == "payment_ref,account_id,package,amount_cents,currency,provider,ledger,verdict"
    assert row.endswith(",acct-a,small,5000,USD,succeeded,credited,ok")
    assert code == 0


def bought(command_id: str, payment_ref: str) -> BuyPackage:
    return BuyPackage(
        command_id=command_id,
        account_id="acct-a",
        occurred_at=NOW,
        package="small",
        payment_ref=payment_ref,
    )


async def paid_checkout(http, provider: TestPaymentProvider) -> str:
    """A checkout started by the account and paid at the provider (its payment reference
    given, as its pay button does); its webhook is left to the test to deliver, or not."""
    checkout = (await http.post("/accounts/acct-a/checkouts", json={"package": "small"})).json()
    order, _ = provider.checkouts[checkout["checkout_id"]]
    provider.checkouts[checkout["checkout_id"]] = (order, f"pi_test_{uuid.uuid4().hex[:24]}")
    return str(checkout["checkout_id"])


def at_another_price(body: bytes, amount_cents: int) -> bytes:
    event = json.loads(body)
    event["data"]["amount_cents"] = amount_cents
    return json.dumps(event).encode()


async def reconciled(settings: Settings, api_url: str, *args: str) -> tuple[int, str]:
    """``credits payments reconcile --since <the day of NOW>`` in a thread (it runs its own
    event loop) while the API answers in this one. The day of ``NOW``, the time the tests'
    commands are stamped with (taken when the tests are collected), not the wall clock's: a
    CI run that collected before midnight UTC and got here after it left the forged purchase
    out of the window (``KeyError: 'pi_test_forged'`` on both stores)."""
    command = ("payments", "reconcile", "--since", NOW.strftime("%Y-%m-%d"), *args)
    return await asyncio.to_thread(credits, settings, api_url, *command)
