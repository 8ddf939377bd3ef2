"""The API's ``/metrics`` (prometheus-fastapi-instrumentator: requests by route template,
method and status, and their latency), ``/health`` and ``/health/ready`` (Kafka and the store
answer). None of them needs a token; none of them says anything about an account."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

from services import observability
from services.api.settings import ApiSettings

# One instrumentator per process: its metrics are registered once in the default registry,
# and every app made in this process (tests make many) records into them.
_DEFAULT = http_metrics.default()  # requests and their latency, by handler, method, status
assert _DEFAULT is not None, "the HTTP metrics are registered once, here"
INSTRUMENTATOR = Instrumentator(excluded_handlers=["/metrics", "/health.*"]).add(_DEFAULT)


def install(app: FastAPI, settings: ApiSettings) -> None:
    INSTRUMENTATOR.instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)
    kafka = observability.kafka_answers(settings)

    async def store() -> bool:
        reads = getattr(app.state.ports, "reads", None)
        ledger_store = getattr(reads, "store", None)
        if ledger_store is None:
            return reads is not None  # test doubles: nothing to ask
        return await observability.store_answers(ledger_store)()

    probes = observability.Probes(kafka=kafka, store=store)

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/health/ready", include_in_schema=False)
    async def ready(_: Request) -> JSONResponse:
        failing = await probes.failing()
        if failing:
            return JSONResponse({"status": "not ready", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready"})
