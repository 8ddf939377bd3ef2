"""Stripe's official mock server for the tests: ``infra/stripe-mock.sh`` starts it once (or
finds it running, as ``make test`` leaves it), and a Stripe provider pointed at it whose HTTP
client records every request our code made. stripe-mock is stateless (it answers with
Stripe's fixture objects), so the tests assert on those requests and on the answers' shapes."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

from services.payments.stripe_provider import StripeProvider
from tests.unit.payments.stripe_payloads import WEBHOOK_SECRET

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "stripe-mock.sh"
PORT = 12111


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]


class RecordingClient(stripe.HTTPXClient):
    """The SDK's own httpx client, noting each request before sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> Any:
        parts = urlsplit(url)
        query = post_data.decode() if isinstance(post_data, bytes) else post_data or parts.query
        self.sent.append(Sent(method, parts.path, dict(parse_qsl(query or "")), dict(headers)))
        return await super().request_async(method, url, headers, post_data)


@pytest.fixture(scope="session", name="stripe_mock")
def stripe_mock_fixture() -> str:
    """stripe-mock's address, started once for the session."""
    subprocess.run([str(SCRIPT), "start"], check=True, timeout=600)
    return f"http://127.0.0.1:{PORT}"


def provider_at(api_base: str) -> tuple[StripeProvider, RecordingClient]:
    recorder = RecordingClient()
    provider = StripeProvider(
        "sk_test_kalema",
        WEBHOOK_SECRET,
        return_base_url="http://127.0.0.1:8000",
        api_base=api_base,
        http_client=recorder,
    )
    return provider, recorder
