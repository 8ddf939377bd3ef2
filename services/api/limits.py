"""What keeps one caller from overwhelming the API: request body size, open streams per token,
commands per account, and idempotency keys bound to the one request they named. In memory, per
API process, bounded; pure but for the ASGI middleware at the end.

Why per process: each is a guard against abuse, not a rule of the ledger. Two API processes
each allow the rate (a deployment sizes it so), and a command is still decided at most once by
its ``command_id`` whichever process sends it. Idempotency keys are kept here only when no
durable key store is open (the app over fakes); the real API binds them in the database
(``keys.StoredKeys``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    """A token bucket per key: ``burst`` commands at once, then ``per_s`` sustained."""

    def __init__(self, per_s: float, burst: int, keys: int = 100_000) -> None:
        assert per_s > 0 and burst > 0
        self.per_s, self.burst, self.keys = per_s, burst, keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, key: str, now: float) -> float | None:
        """Take one; None if allowed, else the seconds to wait before one is available."""
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.per_s)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.keys:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.per_s


class IdempotencyKeys:
    """The fingerprint of the request each key first named, for the most recent keys."""

    def __init__(self, keys: int) -> None:
        self.keys = keys
        self._seen: OrderedDict[str, str] = OrderedDict()

    def claim(self, command_id: str, fingerprint: str) -> bool:
        """Remember the key's request; False if the key already named another request."""
        first = self._seen.setdefault(command_id, fingerprint)
        self._seen.move_to_end(command_id)
        while len(self._seen) > self.keys:
            self._seen.popitem(last=False)
        return first == fingerprint


@dataclass
class StreamQuota:
    """Open balance streams per token."""

    per_token: int
    _open: dict[str, int] = field(default_factory=dict)

    def open(self, token_id: str) -> bool:
        held = self._open.get(token_id, 0)
        if held >= self.per_token:
            return False
        self._open[token_id] = held + 1
        return True

    def close(self, token_id: str) -> None:
        held = self._open.get(token_id, 0) - 1
        if held > 0:
            self._open[token_id] = held
        else:
            self._open.pop(token_id, None)


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` is 413 before routing, authentication or
    parsing see it, by its ``Content-Length`` or, when chunked, once it has read that much."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        # No more digits than the limit has: ``int`` refuses thousands of them.
        if not _digits(length, len(str(self.max_bytes))) or int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.max_bytes)


def _digits(text: bytes, most: int) -> bool:
    return 0 < len(text) <= most and text.isdigit()  # bytes: ASCII digits only


class BodyTooLarge(HTTPException):
    """Raised while a chunked body is read. An HTTPException, so that FastAPI lets it through
    its body parsing; the app answers it with ``too_large_problem``."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, too_large_problem(max_bytes)["message"])
        self.max_bytes = max_bytes


def too_large_problem(max_bytes: int) -> dict[str, str]:
    return {"code": "body_too_large", "message": f"request bodies are limited to {max_bytes} bytes"}


async def _too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(too_large_problem(max_bytes)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
