"""What operators see: every Kafka service as its own process (as ``make run`` starts them),
its ``/health``, ``/health/ready`` and ``/metrics``, and logs that are quiet on a normal start
and under traffic: no ERROR, no line per message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.client import LedgerClient
from services.ledger.store import LedgerStore
from services.observability import Probes, app, kafka_answers, store_answers
from services.settings import REPO, Settings
from tests.integration.conftest_api import api_fixture, open_account  # noqa: F401  (the api fixture)
from tests.integration.test_browser import free_port

SERVICES = {"ledger": "services.ledger", "projector": "projections", "clock": "services.clock"}


@contextmanager
def started(env: dict[str, str], logs: Path) -> Iterator[dict[str, int]]:
    """The three Kafka services, each with its metrics port; SIGTERM at the end."""
    ports = {name: free_port() for name in SERVICES}
    children = []
    try:
        for name, module in SERVICES.items():
            own = env | {f"KALEMA_{name.upper()}_METRICS_PORT": str(ports[name])}
            with (logs / f"{name}.log").open("wb") as log:
                children.append(
                    subprocess.Popen(
                        [sys.executable, "-m", module], cwd=REPO, env=own, stdout=log, stderr=log
                    )
                )
        yield ports
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        codes = [child.wait(timeout=30) for child in children]
        for name in SERVICES:
            print(f"--- {name} ---\n{(logs / f'{name}.log').read_text()[-3000:]}")
        assert codes == [0] * len(codes)


def environment(settings: Settings, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "KALEMA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
        "KALEMA_LEDGER_GROUP_ID": settings.ledger_group_id,
        **more,
    }


async def until_ready(http: httpx.AsyncClient, port: int) -> None:
    async with asyncio.timeout(60):
        while True:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_each_service_is_ready_serves_metrics_and_logs_no_error_and_no_line_per_message(
    store_settings: Settings, backend: str, tmp_path: Path
):
    with started(environment(store_settings), tmp_path) as ports:
        async with httpx.AsyncClient(timeout=10) as http:
            for port in ports.values():
                await until_ready(http, port)
                assert (await http.get(f"http://127.0.0.1:{port}/health")).json() == {
                    "status": "ok"
                }
            async with LedgerClient(store_settings, timeout_s=30) as client:
                await open_account(client, "acct-o")
                await client.use_tool("acct-o", "article_generation")
            await asyncio.sleep(1.0)  # the projector folds, the clock re-reads the row
            scraped = {
                name: (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                for name, port in ports.items()
            }
    ledger, projector, clock = scraped["ledger"], scraped["projector"], scraped["clock"]
    assert (
        'kalema_ledger_commands_total{code="",command_type="UseTool",status="accepted"} 1.0'
        in ledger
    )
    for name in (
        "kalema_ledger_decide_seconds_bucket",
        "kalema_ledger_batch_seconds_bucket",
        "kalema_ledger_batch_records_bucket",
        "kalema_ledger_consumer_lag{",
        "faststream_received_messages_total{",
    ):
        assert name in ledger, name
    assert "kalema_projector_lag_events 0.0" in projector
    assert "kalema_projector_events_total 3.0" in projector
    assert "kalema_clock_active 1.0" in clock
    assert "kalema_clock_scheduled_accounts 1.0" in clock
    assert "kalema_clock_backlog 0.0" in clock
    for name in SERVICES:
        text = (tmp_path / f"{name}.log").read_text()
        assert " ERROR " not in text, f"{name}:\n{text}"
        assert "Received" not in text and "Processed" not in text, f"{name}:\n{text}"


async def test_readiness_names_what_does_not_answer(store_settings: Settings):
    store = LedgerStore(store_settings)
    down = store_settings.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}"})
    try:
        for probes, status, body in (
            (
                Probes(kafka=kafka_answers(store_settings), store=store_answers(store)),
                200,
                {"status": "ready"},
            ),
            (
                Probes(kafka=kafka_answers(down), store=store_answers(store)),
                503,
                {"status": "not ready", "failing": ["kafka"]},
            ),
        ):
            transport = httpx.ASGITransport(app=app(probes))
            async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
                response = await http.get("/health/ready")
            assert (response.status_code, response.json()) == (status, body)
    finally:
        store.close()


async def test_json_logs_carry_the_command_and_account(capfd):
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import logging; from services.observability import configure_logging;"
        "from services.settings import Settings;"
        "configure_logging(Settings(log_format='json'));"
        "logging.getLogger('kalema.test').info('decided', extra={'command_id': 'c1',"
        " 'account_id': 'a1'})",
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await child.communicate()
    line = json.loads(err.decode().strip().splitlines()[-1])
    assert (line["message"], line["command_id"], line["account_id"]) == ("decided", "c1", "a1")
    assert line["level"] == "INFO" and line["name"] == "kalema.test"


async def test_the_api_is_ready_and_counts_requests_by_route_not_by_account(api, store_settings):
    async with api.client() as http:
        assert (await http.get("/health/ready")).json() == {"status": "ready"}
        assert (await http.get("/accounts/acct-nobody/balance")).status_code == 404
        metrics = (await http.get("/metrics", headers={})).text
    assert 'handler="/accounts/{account_id}/balance"' in metrics
    assert "acct-nobody" not in metrics
