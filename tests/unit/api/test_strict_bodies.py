"""HTTP as strict as the wire, over fake ports: bodies follow the Kafka commands' JSON rules,
no input is a 500, the alerts stream has the balance stream's per-token cap, and an
``Idempotency-Key`` names the parsed request, not its bytes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.api.alerts import AlertHub
from services.api.app import create_app
from services.payments.signature import HEADER
from tests.unit.api.test_app import SETTINGS, FakeLedger, fake_ports, outcome
from tests.unit.core.scenario import ACCOUNT

JSON = {"content-type": "application/json"}


def app_and_ledger(token: str = "svc"):
    ledger = FakeLedger(outcome)
    ports = fake_ports(ledger)
    app = create_app(SETTINGS, ports=ports)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://api",
        headers={"Authorization": f"Bearer {token}", **JSON},
    )
    return app, http, ledger


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("tool-uses", b'{"tool": "meta_description", "units": 1, "units": 100}'),
        ("tool-uses", b'{"tool": "meta_description", "\\ud800": 1, "\\ud800": 2}'),
        ("tool-uses", b'{"tool": "\\ud800"}'),
        ("tool-uses", b'{"tool": "meta_description", "units": 1.0}'),
        ("hold-settlements", b'{"hold_id": "job-1", "credits": "7"}'),
        ("hold-settlements", b'{"hold_id": "job-1", "credits": true}'),
        ("holds", b'{"hold_id": "j", "tool": "x", "units": 1, "expires_at": 1780000000}'),
        ("holds", b'{"hold_id": "j", "tool": "x", "units": 1, "expires_at": "2026-12-01"}'),
        ("grants", b'{"credits": 5, "reason": "bell\\u0007"}'),
        ("tool-uses", b'{"tool": ' + b"[" * 8_000 + b"]" * 8_000 + b"}"),
    ],
    ids=[
        "duplicate-key",
        "duplicate-lone-surrogate-key",
        "lone-surrogate",
        "float-for-an-integer",
        "string-for-an-integer",
        "boolean-for-an-integer",
        "epoch-number-for-a-time",
        "date-without-time-or-zone",
        "control-character-in-text",
        "deeply-nested-garbage",
    ],
)
async def test_a_body_the_wire_would_dead_letter_is_422_and_reaches_no_ledger(path, body):
    _, http, ledger = app_and_ledger(token="help" if path == "grants" else "svc")
    async with http:
        answer = await http.post(f"/accounts/{ACCOUNT}/{path}", content=body)

    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
    assert ledger.sent == []


async def test_a_strict_body_that_is_well_formed_is_still_accepted():
    _, http, ledger = app_and_ledger()
    body = b'{"hold_id": "j", "tool": "image_generation", "units": 1, '
    body += b'"expires_at": "2026-12-01T00:00:00+01:00"}'
    async with http:
        answer = await http.post(f"/accounts/{ACCOUNT}/holds", content=body)

    assert answer.status_code == 200
    assert [c.type for c in ledger.sent] == ["ReserveCredits"]


@pytest.mark.parametrize(
    "header",
    ["t=²,v1=00", "t=" + "9" * 5000 + ",v1=00", "t=١٢٣,v1=00"],
    ids=["superscript", "5000-digits", "arabic-digits"],
)
async def test_a_payment_signature_with_a_timestamp_int_cannot_read_is_400_not_500(header):
    _, http, ledger = app_and_ledger()
    async with http:
        answer = await http.post(
            "/webhooks/payments", content=b"{}", headers={HEADER: header.encode()}
        )

    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_signature")
    assert ledger.sent == []


async def test_a_retry_serialised_with_other_whitespace_and_key_order_is_the_same_request():
    _, http, ledger = app_and_ledger()
    key = {"Idempotency-Key": "retry-1"}
    path = f"/accounts/{ACCOUNT}/tool-uses"
    async with http:
        first = await http.post(path, content=b'{"tool":"meta_description","units":2}', headers=key)
        retry = await http.post(
            path, content=b'{\n  "units": 2,\n  "tool": "meta_description"\n}\n', headers=key
        )
        other = await http.post(path, content=b'{"tool":"meta_description","units":3}', headers=key)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json()["command_id"] == retry.json()["command_id"]
    assert len({command.command_id for command in ledger.sent}) == 1
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


class OpenFeed:
    """The alerts feed without a broker: the hub is there at once."""

    def __init__(self) -> None:
        self.hub = AlertHub()

    async def started(self) -> AlertHub:
        return self.hub

    async def stop(self) -> None:
        return None


async def test_alert_streams_per_token_are_capped_like_balance_streams():
    app, http, _ = app_and_ledger(token="tok-1")
    app.state.alert_feed = OpenFeed()
    capped = SETTINGS.api_streams_per_token
    path = f"/accounts/{ACCOUNT}/alerts/stream"
    async with http:
        held = [asyncio.create_task(http.get(path)) for _ in range(capped)]
        while app.state.limits.alert_streams._open.get(_token_id(app)) != capped:
            await asyncio.sleep(0.01)
        refused = await http.get(path)
        for stream in held:
            stream.cancel()
        await asyncio.gather(*held, return_exceptions=True)

    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_streams")


def _token_id(app) -> str:
    held = app.state.limits.alert_streams._open
    return next(iter(held), "")
