"""What operators see of every service: Prometheus metrics, health and readiness, and logs.

Each Kafka service (ledger, projector, clock) serves a small ASGI app beside its work, in the
same event loop: ``/metrics`` (prometheus-client's default registry, where FastStream's
Prometheus middleware and our own metrics live), ``/health`` (the process answers) and
``/health/ready`` (Kafka and the store answer; 503 naming what does not). The API serves the
same paths from its own app (``services/api/observability.py``).

Logs are quiet by default: one line per start, stop or problem; per-message logs are DEBUG.
``KALEMA_LOG_FORMAT=json`` writes one JSON object per line, with ``command_id`` and
``account_id`` when a line concerns a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import uvicorn
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services import kafka_clients
from services.settings import Settings

log = logging.getLogger("kalema")
Probe = Callable[[], Awaitable[bool]]
PROBE_TIMEOUT_S = 3.0
TEXT = "%(asctime)s %(name)s %(levelname)s %(message)s"
CONTEXT = ("command_id", "account_id")


class Probes:
    """Named readiness checks; the service is ready when every one answers True in time."""

    def __init__(self, **checks: Probe) -> None:
        self.checks = dict(checks)

    async def failing(self) -> list[str]:
        names = list(self.checks)
        results = await asyncio.gather(*(_answers(self.checks[n]) for n in names))
        return [name for name, ok in zip(names, results, strict=True) if not ok]


async def _answers(probe: Probe) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return await probe()
    except Exception:
        return False


def app(probes: Probes) -> Starlette:
    """``/metrics``, ``/health`` and ``/health/ready`` for one service."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    async def ready(_: Request) -> JSONResponse:
        failing = await probes.failing()
        if failing:
            return JSONResponse({"status": "not ready", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/health/ready", ready),
            Route("/metrics", metrics),
        ]
    )


@contextlib.asynccontextmanager
async def serving(host: str, port: int, probes: Probes) -> AsyncIterator[None]:
    """Serve ``app(probes)`` on ``host:port`` while the block runs (port 0: none). A port that
    is taken is logged as an ERROR and the service runs on without the endpoints."""
    if not port:
        yield
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:  # e.g. another copy runs here: the work matters more than metrics
        sock.close()
        log.error(
            "cannot serve /metrics and /health on %s:%d (%s); running without", host, port, error
        )
        yield
        return
    config = uvicorn.Config(app(probes), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
        sock.close()


def kafka_answers(settings: Settings) -> Probe:
    """A probe that asks the Kafka cluster to describe itself (one admin client, reused)."""
    admin: list[AIOKafkaAdminClient] = []

    async def probe() -> bool:
        if not admin:
            client = kafka_clients.admin(settings)
            await client.start()
            admin.append(client)
        await admin[0].describe_cluster()
        return True

    return probe


class HasDatastore(Protocol):
    """What the readiness probe needs of a store: its eventsourcing factory (``LedgerStore``).

    A protocol rather than the store's class, so that this plumbing stays below the ledger."""

    @property
    def factory(self) -> Any: ...


def store_answers(store: HasDatastore) -> Probe:
    """A probe that runs ``SELECT 1`` on the ledger's database (SQLite or PostgreSQL)."""
    datastore: Any = store.factory.datastore

    def select_one() -> bool:
        with datastore.transaction(commit=False) as c:
            c.execute("SELECT 1")
            return c.fetchone() is not None

    async def probe() -> bool:
        return await asyncio.to_thread(select_one)

    return probe


class _TextFormatter(logging.Formatter):
    """The plain format, with ``command_id=`` and ``account_id=`` when a line carries them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [f"{k}={getattr(record, k)}" for k in CONTEXT if hasattr(record, k)]
        return " ".join([line, *context])


class _Demote(logging.Filter):
    """Turn a known, harmless ERROR into a WARNING (e.g. aiokafka's coordinator not being
    ready while a fresh consumer group is created: it retries and succeeds)."""

    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and any(
            f in record.getMessage() for f in self.fragments
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class _NotProbes(logging.Filter):
    """Drops the access log's lines for /health and /metrics: probes and scrapers poll them."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, str) and a.startswith(("/health", "/metrics")) for a in args)


def configure_logging(settings: Settings) -> None:
    """Root logging for a service: text or JSON lines on stderr, at ``KALEMA_LOG_LEVEL``."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(TEXT, rename_fields={"levelname": "level"}))
    else:
        handler.setFormatter(_TextFormatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Both are retried by aiokafka and pass within a second of a fresh group or topic.
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.addFilter(_Demote("GroupCoordinatorNotAvailableError", "NotCoordinator"))
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    fetcher.addFilter(_Demote("NotLeaderForPartitionError"))
    # An idempotent producer asks a random known broker for its producer id. Before the first
    # metadata names one it asks node None, logs this, refreshes the metadata and retries. A
    # known node that cannot be reached stays an ERROR.
    client = logging.getLogger("aiokafka")
    client.addFilter(_Demote("node with id None: StaleMetadata"))
    logging.getLogger("uvicorn.access").addFilter(_NotProbes())
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
