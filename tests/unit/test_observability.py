"""Logs are quiet: what aiokafka logs as an ERROR and retries by itself (its coordinator while
a fresh group is made, its producer before the first metadata names a broker) is a WARNING."""

from __future__ import annotations

import logging

import pytest

from services.observability import configure_logging
from services.settings import Settings


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_coordinator_not_being_available_at_a_group_join_is_a_warning_not_an_error(
    restored_logging, capsys
):
    configure_logging(Settings())
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Error sending JoinGroupRequest to node %s [%s] -- will retry",
        1,
        "[Error 15] GroupCoordinatorNotAvailableError",
    )
    logging.getLogger("kalema.ledger").error("a real problem", extra={"command_id": "c1"})
    lines = capsys.readouterr().err.splitlines()
    assert " WARNING Error sending JoinGroupRequest" in lines[0]
    assert lines[1].endswith(" ERROR a real problem command_id=c1")


async def test_a_taken_metrics_port_is_logged_and_the_service_runs_on(caplog):
    import socket

    from services.observability import Probes, serving

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = False
        async with serving("127.0.0.1", port, Probes()):
            ran = True
    assert ran
    assert any(r.levelname == "ERROR" and "running without" in r.message for r in caplog.records)


def test_the_access_log_leaves_out_probes_and_scrapes_but_not_requests(
    restored_logging, capsys, monkeypatch
):
    access = logging.getLogger("uvicorn.access")
    # As a served API leaves them (log_config=None); a test's uvicorn may have configured them.
    for name in ("uvicorn", "uvicorn.access"):
        monkeypatch.setattr(logging.getLogger(name), "handlers", [])
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    monkeypatch.setattr(access, "level", access.level)  # restored after the test
    access.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the level caches
    configure_logging(Settings())
    line = '%s - "%s %s HTTP/%s" %d'
    access.info(line, "127.0.0.1:1", "GET", "/health/ready", "1.1", 200)
    access.info(line, "127.0.0.1:1", "GET", "/metrics", "1.1", 200)
    access.info(line, "127.0.0.1:1", "GET", "/accounts/acct-1/balance", "1.1", 200)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "/accounts/acct-1/balance" in lines[0]


def test_an_idempotent_producer_finding_no_broker_yet_is_a_warning_but_a_lost_broker_an_error(
    restored_logging, capsys
):
    configure_logging(Settings())
    client = logging.getLogger("aiokafka")
    # What aiokafka 0.14 logs when its idempotent producer asks for a producer id before the
    # first metadata names a broker (``get_random_node`` gives None); it refreshes and retries.
    # CI caught it once at a ledger's start (test_observability's "no ERROR line").
    stale = "StaleMetadata: Broker id None not in current metadata"
    client.error("Unable connect to node with id %s: %s", None, stale)
    client.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connect call failed")
    lines = capsys.readouterr().err.splitlines()
    assert " WARNING Unable connect to node with id None: StaleMetadata" in lines[0]
    assert " ERROR Unable connect to node with id 1: [Errno 111]" in lines[1]
