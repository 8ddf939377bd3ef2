"""``python -m services.api``: the HTTP API and the account page, until SIGTERM or Ctrl-C.

On a stop the open balance streams end at once (browsers reconnect by themselves), any other
request in flight has ``KALEMA_API_SHUTDOWN_GRACE_S`` to finish, then the ledger client and the
balances feed are closed. With ``KALEMA_ENVIRONMENT=production`` the development tokens, the
development webhook secret and the test payment provider are refused at start, whatever the
address (``create_app`` checks, ``services.going_live``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI

from services import gc_tuning
from services.api import logs
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.observability import configure_logging

log = logging.getLogger("kalema.api")
LISTENING = "api: listening on"  # logged once a shared port's socket takes connections


class ApiServer(uvicorn.Server):
    """Ends the open balance and alert streams as soon as a stop is asked for: their
    connections close at once, and the shutdown does not wait out the grace period on them."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then say so for a shared port: uvicorn logs where it listens only for a
        port it opened itself, and until this process listens, the kernel gives every new
        connection to the other processes on the port."""
        await super().startup(sockets)
        if self.started and sockets:
            where = sockets[0].getsockname()
            log.info("%s %s:%d, shared with other processes", LISTENING, where[0], where[1])

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        ports, alerts = self.app.state.ports, getattr(self.app.state, "alert_feed", None)
        if ports is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(ports.hub.close)
        if alerts is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(alerts.hub.close)
        super().handle_exit(sig, frame)


def main() -> int:
    settings = ApiSettings()
    configure_logging(settings)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # keep the root logger's format; our filter is installed below
        timeout_graceful_shutdown=settings.api_shutdown_grace_s,
        proxy_headers=False,
    )
    logs.install()
    gc_tuning.settle_for_a_long_run()  # thousands of open streams: no full collection pauses
    log.info("api: %s (balances from %s)", settings.url(), settings.topic["balances"])
    sockets = (
        [shared_port(settings.api_host, settings.api_port)] if settings.api_shared_port else None
    )
    ApiServer(config, app).run(sockets)
    return 0


def shared_port(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes may bind too (``SO_REUSEPORT``:
    the kernel gives each new connection to one of them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    sys.exit(main())
