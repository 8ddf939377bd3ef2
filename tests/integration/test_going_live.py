"""Going live, through the real entry points: given ``KALEMA_ENVIRONMENT=production`` and the
lab settings (``make run``'s defaults), when an operator starts any service, then it exits
non-zero before connecting to anything, with one line naming the settings to change. The
API refuses on loopback as on any address, through ``__main__`` and ``uvicorn --factory``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.settings import REPO

PYTHON = sys.executable
ENTRY_POINTS = {
    "make run": [PYTHON, "-m", "services.run"],
    "ledger": [PYTHON, "-m", "services.ledger"],
    "projector": [PYTHON, "-m", "projections"],
    "clock": [PYTHON, "-m", "services.clock"],
    "top-up": [PYTHON, "-m", "services.topup"],
    "api": [PYTHON, "-m", "services.api"],
    "api factory": [
        PYTHON,
        "-m",
        "uvicorn",
        "--factory",
        "services.api.app:create_app",
        "--port",
        "0",
    ],
    "topics": [PYTHON, "-m", "services.topics"],
    "credits": [PYTHON, "-m", "services.cli", "read-model", "lag"],
    "demo": [PYTHON, "-m", "services.api.demo"],
}


def lab_environment(**more: str) -> dict[str, str]:
    """This process's environment with no ``KALEMA_*`` of its own: the lab defaults."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("KALEMA_")}
    return kept | {"PYTHONPATH": str(REPO), "KALEMA_ENVIRONMENT": "production"} | more


def started(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_refuses_the_lab_settings_in_production_in_one_line(entry_point):
    run = started(ENTRY_POINTS[entry_point], lab_environment())

    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert lines[-1].startswith("refusing to start with KALEMA_ENVIRONMENT=production: ")
    if entry_point != "demo":
        assert "KALEMA_LEDGER_CHAIN_KEY" in lines[-1]
        assert "KALEMA_KAFKA_SECURITY_PROTOCOL" in lines[-1]


@pytest.mark.parametrize("api_host", ["127.0.0.1", "0.0.0.0"])
def test_the_api_refuses_the_test_payment_provider_alone_on_any_address(api_host):
    env = lab_environment(
        KALEMA_API_HOST=api_host,
        KALEMA_LEDGER_CHAIN_KEY="chain-secret",
        KALEMA_KAFKA_ALLOW_PLAINTEXT="true",
        KALEMA_API_SERVICE_TOKENS='{"svc-live": "billing"}',
        KALEMA_API_ACCOUNT_TOKENS='{"acct-live": "acct-a"}',
        KALEMA_PAYMENTS_WEBHOOK_SECRET="whsec_live",
    )

    run = started(ENTRY_POINTS["api"], env)

    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1] == (
        "refusing to start with KALEMA_ENVIRONMENT=production: KALEMA_PAYMENTS_TEST_PROVIDER is "
        "on (its pay button confirms payments without taking money)"
    )
