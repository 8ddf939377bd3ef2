"""The light client of ``benchmarks.live_streams``: many server-sent event streams from one
process over raw sockets (one small coroutine per stream, no HTTP library), as a crowd of
browsers would hold them open.

    .venv/bin/python -m benchmarks.stream_client --port 8000 --token T --out arrivals.json \
        --path /accounts/{}/balance/stream ACCOUNT...

Opens one stream per account named (an account may be named twice), at most ``--in-flight``
opening at once, and prints ``opened <streams> <seconds> <refused>`` once every stream has
answered (its first event, or its headers with ``--no-first-event``; or a refusal). Then it
notes the arrival (``time.monotonic``, the same clock in every process of the machine) of
every event by account and version (the ``version`` of its data: a balance's, or the balance
version an alert fired at) until SIGTERM, and writes ``{account: [[version, at], ...]}`` to
``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

VERSION = re.compile(rb'^data: {.*?"version":(\d+)')  # the first: the event's own, not a nested one


class Streams:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.arrivals: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self.heartbeats = self.refused = self.ended_early = 0
        self.answered = 0
        self.all_answered = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, account: str, gate: asyncio.Semaphore) -> None:
        """Open the stream, wait for its first event, then follow it; a stream refused or
        broken before its first event counts as refused, after it as ended early."""
        opened = False
        try:
            async with gate:
                reader = await self._request(account)
                if reader is None:
                    return
                while self.args.first_event and not await self._chunk(reader, account):
                    pass
                opened = True
                self._answer()
            await self._follow(reader, account)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.ended_early += opened
        finally:
            if not opened:
                self.refused += 1
                self._answer()

    async def _request(self, account: str) -> asyncio.StreamReader | None:
        reader, writer = await asyncio.open_connection(self.args.host, self.args.port)
        self.writers.append(writer)
        path = self.args.path.format(account)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.args.host}\r\n"
            f"Authorization: Bearer {self.args.token}\r\n\r\n".encode()
        )
        status = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # the headers
        return reader if b" 200 " in status else None

    async def _follow(self, reader: asyncio.StreamReader, account: str) -> None:
        while True:
            await self._chunk(reader, account)

    async def _chunk(self, reader: asyncio.StreamReader, account: str) -> bool:
        """One chunk of the chunked body (the server writes one frame per chunk): True if it
        held an event."""
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            raise ConnectionResetError("the stream ended")
        frame = await reader.readexactly(size + 2)
        at = time.monotonic()
        for line in frame.split(b"\n"):
            if found := VERSION.match(line):
                self.arrivals[account].append((found[1].decode(), at))
                return True
        self.heartbeats += 1
        return False

    def _answer(self) -> None:
        self.answered += 1
        if self.answered == len(self.args.accounts):
            self.all_answered.set()


async def run(args: argparse.Namespace) -> None:
    streams = Streams(args)
    gate = asyncio.Semaphore(args.in_flight)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    began = time.monotonic()
    tasks = [asyncio.create_task(streams.open(a, gate)) for a in args.accounts]
    await streams.all_answered.wait()
    print(f"opened {len(tasks)} {time.monotonic() - began:.3f} {streams.refused}", flush=True)
    await stopping.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for writer in streams.writers:
        writer.close()
    summary = {"heartbeats": streams.heartbeats, "streams_ended_early": streams.ended_early}
    Path(args.out).write_text(json.dumps({"arrivals": streams.arrivals, **summary}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--path", default="/accounts/{}/balance/stream")
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument(
        "--no-first-event",
        dest="first_event",
        action="store_false",
        help="a stream is open once its headers came (alerts: no event on open)",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("accounts", nargs="*")
    args = parser.parse_args()
    if not args.accounts:
        args.accounts = sys.stdin.read().split()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
