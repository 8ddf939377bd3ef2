"""The HTTP API and the account page, as one FastAPI app.

``create_app(settings)`` opens the real ports (store, ledger client, balances feed) for the
app's lifetime; tests may pass their own ``ports`` instead. OpenAPI is at ``/openapi.json``
and ``/docs``; the page is at ``/`` with its files under ``/static``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from services.api import errors, observability
from services.api.deps import Limits
from services.api.limits import BodyLimit, BodyTooLarge, too_large_problem
from services.api.ports import Ports, real_ports
from services.api.routes import (
    accounts,
    alerts,
    catalog,
    checkouts,
    commands,
    finance,
    me,
    stripe_webhook,
)
from services.api.settings import ApiSettings
from services.going_live import refuse_lab_settings
from services.payments.stripe_provider import StripeProvider
from services.payments.testmode import TestPaymentProvider

STATIC = Path(__file__).with_name("static")
PAGE_HEADERS = {
    # The page's token must not leave it: no third-party code, no referrer.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: ApiSettings | None = None, ports: Ports | None = None) -> FastAPI:
    """The app; in production, refuses the lab settings first (``services.going_live``),
    so ``uvicorn --factory services.api.app:create_app`` is held to them as ``__main__`` is."""
    settings = settings or ApiSettings()
    refuse_lab_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ports is not None:
            app.state.ports = ports
            yield
            return
        async with real_ports(settings) as real:
            app.state.ports = real
            yield

    app = FastAPI(
        title="Kalema Credits API",
        version="1",
        summary="Credit balances, history and commands of Kalema accounts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.ports = ports  # None until the lifespan opens the real ones
    app.state.limits = Limits.of(settings)
    app.state.payments = None
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_exception_handler(errors.ApiError, errors.answer)
    app.add_exception_handler(RequestValidationError, errors.invalid)
    app.add_exception_handler(BodyTooLarge, too_large)
    for module in (accounts, commands, checkouts, catalog, me, finance):
        app.include_router(module.router)
    if settings.payments_provider == "stripe":
        app.state.payments = stripe_provider(settings)
        app.include_router(stripe_webhook.router)
    elif settings.payments_test_provider:
        provider = TestPaymentProvider(settings.payments_webhook_secret.get_secret_value())
        app.state.payments = provider
        app.include_router(provider.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    observability.install(app, settings)  # /metrics, /health, /health/ready
    app.include_router(alerts.router)  # the page's alerts stream

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    return app


def stripe_provider(settings: ApiSettings) -> StripeProvider:
    assert settings.stripe_secret_key and settings.stripe_webhook_secret  # the settings check
    return StripeProvider(
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_webhook_secret.get_secret_value(),
        return_base_url=settings.payments_return_base_url,
        api_base=settings.stripe_api_base,
        tolerance_s=settings.payments_webhook_tolerance_s,
    )


async def too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return JSONResponse(too_large_problem(exc.max_bytes), status_code=413)
