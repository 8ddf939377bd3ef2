"""Live balances at fan-out: many open balance streams on one API process, commands spread over
them, and the delay from sending a command to its balance arriving on a stream.

    credits bench live-streams [--store sqlite|postgres] [--streams 10000] [--accounts N]
                               [--rate 500] [--seconds 30] [--alerts] [--out PATH]

Starts the ledger, the projector and the API as their own processes (as ``make run`` does) in
a namespace of their own on the real broker, and opens ``--accounts`` accounts (default: one
per stream; not measured). Then the light client (``benchmarks.stream_client``, raw sockets,
its own process) opens ``--streams`` balance streams, spread over the accounts, as fast as the
API takes them (``--alerts``: an alerts stream beside each as well), and commands from
``tests/workload.py`` are sent through ``LedgerClient`` at ``--rate`` per second for
``--seconds``. For each accepted command the delay runs from just before it is sent to the
first arrival, on any stream of its account, of a balance with ``version >=`` its outcome's
``stream_version``. Prints and writes: the open rate, p50/p99/max of send → stream, the API's
CPU and peak RSS (psutil) while the streams are open, and what was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.balance_latency import start_processes, stop_processes
from benchmarks.report import percentiles, written
from benchmarks.throwaway import throwaway
from benchmarks.usage import Sampler
from events.commands import Command
from projections import maintenance
from projections.settings import ProjectorSettings
from services.api.settings import DEV_SERVICE_TOKENS
from services.client import LedgerClient
from services.settings import REPO
from services.topics import delete_topics, ensure_topics
from tests.workload import command_log

RESULTS = REPO / "benchmarks" / "results" / "live_streams.json"
TOKEN = next(t for t, scope in DEV_SERVICE_TOKENS.items() if scope == "support")
Sent = tuple[str, float, int]  # account, sent at (monotonic), stream version of its outcome


async def bench(settings: ProjectorSettings, args: argparse.Namespace) -> dict[str, Any]:
    log = command_log(args.accounts + int(args.rate * args.seconds), args.accounts, seed=42)
    opening, paced = log[: args.accounts], log[args.accounts :]
    port = _free_port()
    processes = start_processes(
        settings,
        ("services.ledger", "projections", "services.api"),
        env={"KALEMA_API_PORT": str(port), "KALEMA_API_STREAMS_PER_TOKEN": str(10 * args.streams)},
    )
    try:
        async with LedgerClient(settings, timeout_s=60) as client:
            await asyncio.gather(*(client.submit(c) for c in opening))
            await _folded(settings)
            await _api_ready(port)
            accounts = [opening[n % len(opening)].account_id for n in range(args.streams)]
            return await _measured(settings, args, client, processes[2].pid, port, accounts, paced)
    finally:
        stop_processes(processes)


async def _measured(
    settings: ProjectorSettings,
    args: argparse.Namespace,
    client: LedgerClient,
    api_pid: int,
    port: int,
    accounts: list[str],
    paced: list[Command],
) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp()) / "arrivals.json"
    streams = [await _client(port, "/accounts/{}/balance/stream", accounts, out)]
    if args.alerts:  # no event on open: open once the headers came
        alerts = ("/accounts/{}/alerts/stream", accounts, out.with_name("alerts.json"))
        streams.append(await _client(port, *alerts, "--no-first-event"))
    named = {"api": api_pid, **{f"stream client {n}": s.pid for n, s in enumerate(streams)}}
    sampler = Sampler(named, _kafka_port(settings), None, since=time.time())
    await sampler.start()
    opened = [await _opened(s) for s in streams]
    sent = await _paced(client, paced, args.rate)
    await asyncio.sleep(args.settle_s)
    usage = await sampler.stop()
    for stream in streams:
        stream.send_signal(signal.SIGTERM)
        await stream.wait()
    arrived = json.loads(out.read_text())
    return _figures(args, opened, sent, arrived, usage)


async def _client(port: int, path: str, accounts: list[str], out: Path, *more: str) -> Any:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "benchmarks.stream_client", f"--port={port}", f"--token={TOKEN}"),
        *(f"--path={path}", f"--out={out}", *more),
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(" ".join(accounts).encode())
    await process.stdin.drain()
    process.stdin.close()
    return process


async def _opened(process: Any) -> dict[str, Any]:
    """The client's ``opened`` line: how many streams, how fast, how many were refused."""
    line = (await process.stdout.readline()).decode().split()
    assert line and line[0] == "opened", f"the stream client said {line}"
    streams, seconds, refused = int(line[1]), float(line[2]), int(line[3])
    return {
        "streams": streams,
        "refused": refused,
        "seconds": round(seconds, 2),
        "streams_per_s": round(streams / seconds) if seconds else None,
    }


async def _paced(client: LedgerClient, commands: list[Command], rate: float) -> list[Sent]:
    sent: list[Sent] = []

    async def one(command: Command) -> None:
        at = time.monotonic()
        outcome = await client.submit(command)
        if outcome.status == "accepted" and not outcome.repeat and outcome.stream_version:
            sent.append((command.account_id, at, outcome.stream_version))

    began, tasks = time.monotonic(), []
    for n, command in enumerate(commands):
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(command)))
    await asyncio.gather(*tasks)
    return sent


def _figures(
    args: argparse.Namespace,
    opened: list[dict[str, Any]],
    sent: list[Sent],
    arrived: dict[str, Any],
    usage: dict[str, dict[str, float]],
) -> dict[str, Any]:
    arrivals = arrived["arrivals"]
    delays, missing = [], 0
    for account, at, version in sent:
        first = min((t for v, t in arrivals.get(account, ()) if int(v) >= version), default=None)
        if first is None:
            missing += 1
        else:
            delays.append(max(0.0, first - at))
    return {
        "store": args.store,
        "streams": args.streams,
        "accounts": args.accounts,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "opened": opened[0],
        **({"alerts_opened": opened[1]} if len(opened) > 1 else {}),
        "send_to_stream": percentiles(delays),
        "balances_missing": missing,
        "streams_ended_early": arrived["streams_ended_early"],
        "heartbeats": arrived["heartbeats"],
        "resources": usage,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


async def _folded(settings: ProjectorSettings) -> None:
    """Until the read model holds every event stored (the streams open from it)."""
    while await asyncio.to_thread(maintenance.lag, settings):
        await asyncio.sleep(0.2)


async def _api_ready(port: int) -> None:
    """Until the API answers ``/health/ready`` with 200 (it starts alongside the others)."""
    for _ in range(600):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health/ready HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError("the API did not become ready")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _kafka_port(settings: ProjectorSettings) -> int:
    return int(settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=0, help="default: one per stream")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle-s", type=float, default=2.0, help="after the last command")
    parser.add_argument("--alerts", action="store_true", help="an alerts stream beside each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.accounts = args.accounts or args.streams
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the API's sockets: inherited
    with throwaway(args.store, ProjectorSettings) as settings:
        asyncio.run(ensure_topics(settings))
        try:
            result = asyncio.run(bench(settings, args))
        finally:
            asyncio.run(delete_topics(settings))
    written(result, args.out)


if __name__ == "__main__":
    main()
