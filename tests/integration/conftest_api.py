"""Fixtures for the API's tests: the API served by a real uvicorn on a free port of this
process (streams need a real server), its tokens, and helpers to open accounts and read
server-sent events. Imported by the test modules that use them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from events.commands import BuyPackage, CycleRenewed
from services.api.app import create_app
from services.api.ports import Ports
from services.api.settings import ApiSettings
from services.client import LedgerClient
from services.settings import Settings

SERVICE_TOKEN = "test-workers-token"  # reads every account, as every internal caller does
BILLING_TOKEN = "test-billing-token"
SUPPORT_TOKEN = "test-support-token"
SERVICE_TOKENS = {SERVICE_TOKEN: "workers", BILLING_TOKEN: "billing", SUPPORT_TOKEN: "support"}
TOKENS = {"token-a": "acct-a", "token-b": "acct-b"}
WEBHOOK_SECRET = "whsec_integration"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_settings(settings: Settings, **knobs: Any) -> ApiSettings:
    return ApiSettings(
        **settings.model_dump(),
        **{
            "api_service_tokens": {SecretStr(k): v for k, v in SERVICE_TOKENS.items()},
            "api_account_tokens": {SecretStr(k): v for k, v in TOKENS.items()},
            "payments_webhook_secret": SecretStr(WEBHOOK_SECRET),
            **knobs,
        },
    )


@dataclass
class RunningApi:
    url: str
    app: FastAPI

    @property
    def ports(self) -> Ports:
        ports: Ports = self.app.state.ports
        return ports

    def client(self, token: str | None = SERVICE_TOKEN) -> httpx.AsyncClient:
        headers = bearer(token) if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


@asynccontextmanager
async def running_api(settings: Settings, **knobs: Any) -> AsyncIterator[RunningApi]:
    """The API on a free port until the block ends (then stopped as by SIGTERM)."""
    app = create_app(api_settings(settings, **knobs))
    # proto IPPROTO_TCP, or asyncio leaves Nagle on (40 ms per request with delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), f"the API did not start: {task.exception()!r}"
                await asyncio.sleep(0.02)
        host, port = sock.getsockname()
        yield RunningApi(f"http://{host}:{port}", app)
    finally:
        if app.state.ports is not None:
            app.state.ports.hub.close()  # as python -m services.api does on SIGTERM
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@pytest.fixture(name="api")
async def api_fixture(
    store_settings: Settings, ledger: Any, projector: Any
) -> AsyncIterator[RunningApi]:
    """The API in front of a running ledger and projector on a fresh store."""
    async with running_api(store_settings) as running:
        yield running


NOW = datetime.now(UTC).replace(microsecond=0)


async def open_account(
    client: LedgerClient, account_id: str, *, plan: str = "solo", package: str | None = "small"
) -> int:
    """Open an account as billing and a purchase would; returns its stream version."""
    outcome = await client.execute(
        CycleRenewed(
            command_id=f"{account_id}-cycle",
            account_id=account_id,
            occurred_at=NOW,
            plan=plan,
            cycle_start=NOW - timedelta(days=1),
            cycle_end=NOW + timedelta(days=29),
        )
    )
    if package is not None:
        outcome = await client.execute(
            BuyPackage(
                command_id=f"{account_id}-package",
                account_id=account_id,
                occurred_at=NOW,
                package=package,
                payment_ref=f"{account_id}-pay",
            )
        )
    assert outcome.stream_version is not None
    return outcome.stream_version


async def sse_events(
    response: httpx.Response, event: str = "balance"
) -> AsyncIterator[dict[str, Any]]:
    """The ``event`` events (``balance``, ``alert``) of a server-sent event stream, decoded."""
    name, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())
        elif not line and data:
            if name == event:
                yield json.loads("\n".join(data))
            name, data = None, []
