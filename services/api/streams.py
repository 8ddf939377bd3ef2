"""What every live stream of the API shares: a wake-up with no task, timer or queue of its own,
one heartbeat timer for all the streams of the process, and a lean server-sent-event response.

A stream's whole cost is the request's own task and one small task that waits for the client
to leave: nothing runs for it while nothing changes but a heartbeat every
``KALEMA_API_STREAM_HEARTBEAT_S``, which keeps proxies from cutting a quiet connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

HEARTBEAT = b": heartbeat\n\n"  # a comment line: ignored by EventSource, read by proxies
TICK_S = 0.1  # the heartbeats of a period are spread over its ticks of this long


class Waker:
    """Wakes one stream's task: news, a heartbeat due, or the end. ``wait`` returns at once
    if anything happened since the last call."""

    __slots__ = ("_flag", "_slot", "_waiter", "beat_due", "closed")

    def __init__(self) -> None:
        self.closed = self.beat_due = self._flag = False
        self._waiter: asyncio.Future[None] | None = None
        self._slot = 0  # which tick of the heartbeat period beats it (``Heartbeats.add``)

    def wake(self) -> None:
        self._flag = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def beat(self) -> None:
        self.beat_due = True
        self.wake()

    def close(self) -> None:
        """End the stream: ``wait`` returns at once, now and from now on."""
        self.closed = True
        self.wake()

    async def wait(self, timeout_s: float | None = None) -> bool:
        """Until woken (True) or ``timeout_s`` passed (False); ``None`` waits for a wake-up."""
        if not self._flag:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout_s):
                    await self._waiter
            except TimeoutError:
                return False
            finally:
                self._waiter = None
        self._flag = self.closed  # a closed stream stays woken
        return True


class Heartbeats:
    """One timer for every open stream: each is beaten once a period, a slice of them every
    ``TICK_S``, so that the beats of many streams never come all at once. Each beat is a
    frame written through the whole ASGI stack, so a tick must stay short: 10,000 streams
    beaten in 10 ticks made the event loop write 1,000 frames at once, a pause every stream
    felt; in ticks of 0.1 s (150 in the default 15 s) it writes about 70."""

    def __init__(self, every_s: float) -> None:
        assert every_s > 0
        self.every_s = every_s
        self._slices: list[set[Waker]] = [set() for _ in range(max(1, round(every_s / TICK_S)))]
        self._next_slot = itertools.count()
        self._task: asyncio.Task[None] | None = None

    def add(self, stream: Waker) -> None:
        stream._slot = next(self._next_slot) % len(self._slices)
        self._slices[stream._slot].add(stream)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, stream: Waker) -> None:
        self._slices[stream._slot].discard(stream)

    def __len__(self) -> int:
        return sum(len(s) for s in self._slices)

    async def _run(self) -> None:
        for tick in itertools.count():
            await asyncio.sleep(self.every_s / len(self._slices))
            for stream in self._slices[tick % len(self._slices)]:
                stream.beat()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class EventStream(StreamingResponse):
    """``text/event-stream`` from ``frames``, written in the request's own task (no task group,
    no keep-alive task per stream). The client leaving calls ``gone``, which must make
    ``frames`` end."""

    def __init__(self, frames: AsyncIterator[bytes], gone: Callable[[], None]) -> None:
        super().__init__(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.gone = gone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = asyncio.ensure_future(_until_disconnected(receive))
        watch.add_done_callback(lambda _: self.gone())
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            await send({**start, "headers": self.raw_headers})
            async for frame in self.body_iterator:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it only watched
                await watch


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def event(name: str, event_id: str, data: str) -> bytes:
    """One server-sent event; ``data`` is one line of JSON."""
    return f"event: {name}\nid: {event_id}\ndata: {data}\n\n".encode()


# The success of a stream route, for the OpenAPI document: each item is an event (OpenAPI 3.2).
_ITEM = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}
SSE: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {"itemSchema": _ITEM}}}
}
