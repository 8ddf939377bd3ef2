"""Live balances at fan-out: many open streams on the API, commands spread over them, and the
delay from sending a command to its balance (or its alert) arriving on a stream.

    credits bench live-streams [--store sqlite|postgres] [--streams 10000] [--accounts N]
                               [--rate 500] [--seconds 30] [--of balance|alerts|both]
                               [--apis 1] [--out PATH]

Starts the ledger, the projector and the API as their own processes (as ``make run`` does) in
a namespace of their own on the real broker, and opens ``--accounts`` accounts (default: one
per stream; not measured). Then the light client (``benchmarks.stream_client``, raw sockets,
its own process) opens ``--streams`` streams, spread over the accounts, as fast as the API
takes them: balance streams, alerts streams (``--of alerts``), or one of each per account
(``--of both``: twice the connections, which the API processes must be allowed to hold;
``--apis N`` runs N of them sharing the port, ``KALEMA_API_SHARED_PORT``), and
commands from ``tests/workload.py`` are sent through ``LedgerClient`` at ``--rate`` per second
for ``--seconds``. For each accepted command the delay runs from just before it is sent to the
first arrival, on any stream of its account, of a balance with ``version >=`` its outcome's
``stream_version``; for alerts, of an alert fired at exactly that version (only the commands
that cross a line fire one). Prints and writes: the open rate, p50/p99/max of send → stream,
the API's CPU and peak RSS (psutil) while the streams are open, and what was missed.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil

from benchmarks.balance_latency import start_processes, stop_processes
from benchmarks.report import percentiles, written
from benchmarks.throwaway import throwaway
from benchmarks.usage import Sampler
from events.commands import Command, CycleRenewed, GrantCredits, UseTool
from projections import maintenance
from projections.alerts import AlertRules
from projections.settings import ProjectorSettings
from services.api.settings import DEV_SERVICE_TOKENS
from services.client import LedgerClient
from services.ledger.catalog_file import load_catalog
from services.settings import REPO
from services.topics import delete_topics, ensure_topics
from tests.workload import command_log

RESULTS = REPO / "benchmarks" / "results" / "live_streams.json"
TOKEN = next(t for t, scope in DEV_SERVICE_TOKENS.items() if scope == "support")
SPREAD = 1.1  # the kernel spreads connections over processes sharing a port about evenly
SPARE_FILES = 1_000  # the API's other files: modules, Kafka, the store, the listening socket
Sent = tuple[str, float, int]  # account, sent at (monotonic), stream version of its outcome


async def bench(settings: ProjectorSettings, args: argparse.Namespace) -> dict[str, Any]:
    count = int(args.rate * args.seconds)
    log = command_log(args.accounts + count, args.accounts, seed=42)
    opening, paced = log[: args.accounts], log[args.accounts :]
    if args.of != "balance":
        paced = alerting(opening, count)
    port = _free_port()
    processes = start_processes(
        settings,
        ("services.ledger", "projections", *["services.api"] * args.apis),
        env={
            "KALEMA_API_PORT": str(port),
            "KALEMA_API_STREAMS_PER_TOKEN": str(10 * args.streams),
            "KALEMA_API_SHARED_PORT": str(args.apis > 1).lower(),
        },
    )
    apis = [p.pid for p in processes[2:]]
    try:
        async with LedgerClient(settings, timeout_s=60) as client:
            await asyncio.gather(*(client.submit(c) for c in opening))
            await _folded(settings)
            await _api_ready(port, apis)
            accounts = [opening[n % len(opening)].account_id for n in range(args.streams)]
            return await _measured(settings, args, client, apis, port, accounts, paced)
    finally:
        stop_processes(processes)


async def _measured(
    settings: ProjectorSettings,
    args: argparse.Namespace,
    client: LedgerClient,
    apis: list[int],
    port: int,
    accounts: list[str],
    paced: list[Command],
) -> dict[str, Any]:
    kinds = ("balance", "alerts") if args.of == "both" else (args.of,)
    outs = {kind: Path(tempfile.mkdtemp()) / f"{kind}.json" for kind in kinds}
    streams = {kind: await _client(port, kind, accounts, outs[kind]) for kind in kinds}
    named = {"api": apis[0]} if len(apis) == 1 else {f"api {n + 1}": p for n, p in enumerate(apis)}
    named |= {f"{kind} stream client": s.pid for kind, s in streams.items()}
    sampler = Sampler(named, _kafka_port(settings), None, since=time.time())
    await sampler.start()
    opened = {kind: await _opened(s) for kind, s in streams.items()}
    sent = await _paced(client, paced, args.rate)
    await asyncio.sleep(args.settle_s)
    usage = await sampler.stop()
    for stream in streams.values():
        stream.send_signal(signal.SIGTERM)
        await stream.wait()
    arrived = {kind: json.loads(out.read_text()) for kind, out in outs.items()}
    return _figures(args, opened, sent, arrived, usage)


def alerting(opening: list[Command], count: int) -> list[Command]:
    """``count`` commands, the accounts of ``opening`` in turn, every second one firing a
    low-balance alert: a use down to exactly the line (fires), then a grant of the plan's
    credits back above it (re-arms), then a use of them down to the line again, and so on."""
    plans = load_catalog().plans
    cycles = [c for c in opening if isinstance(c, CycleRenewed)]
    made: list[Command] = []
    for n in range(count):
        cycle = cycles[n % len(cycles)]
        turn = n // len(cycles)
        plan_credits = plans[cycle.plan].credits_per_cycle
        line = AlertRules().low_line(plan_credits)
        base = {
            "command_id": f"{cycle.account_id}-alerting-{turn}",
            "account_id": cycle.account_id,
            "occurred_at": cycle.occurred_at + timedelta(minutes=len(opening) + n),
        }
        if turn % 2:
            made.append(GrantCredits(**base, credits=plan_credits, reason="re-arm the alert"))
        else:
            units = plan_credits - line if turn == 0 else plan_credits
            made.append(UseTool(**base, tool="keyword_suggestions", units=units))
    return made


async def _client(port: int, kind: str, accounts: list[str], out: Path) -> Any:
    path = "/accounts/{}/balance/stream" if kind == "balance" else "/accounts/{}/alerts/stream"
    more = () if kind == "balance" else ("--no-first-event",)  # open once the headers came
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
    opened: dict[str, dict[str, Any]],
    sent: list[Sent],
    arrived: dict[str, dict[str, Any]],
    usage: dict[str, dict[str, float]],
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "store": args.store,
        "streams": args.streams,
        "accounts": args.accounts,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "of": args.of,
    }
    if "balance" in arrived:
        delays, missing = _delays(sent, arrived["balance"]["arrivals"], exact=False)
        figures |= {
            "opened": opened["balance"],
            "send_to_stream": percentiles(delays),
            "balances_missing": missing,
        }
    if "alerts" in arrived:
        delays, _ = _delays(sent, arrived["alerts"]["arrivals"], exact=True)
        figures |= {"alerts_opened": opened["alerts"], "send_to_alert": percentiles(delays)}
    return figures | {
        "streams_ended_early": sum(a["streams_ended_early"] for a in arrived.values()),
        "heartbeats": sum(a["heartbeats"] for a in arrived.values()),
        "resources": usage,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _delays(
    sent: list[Sent], arrivals: dict[str, list[tuple[str, float]]], exact: bool
) -> tuple[list[float], int]:
    """Send → first arrival on a stream of its account of a version at (``exact``) or past
    its outcome's, for every command sent; and how many saw no such arrival."""
    delays, missing = [], 0
    for account, at, version in sent:
        seen = arrivals.get(account, ())
        first = min(
            (t for v, t in seen if (int(v) == version if exact else int(v) >= version)),
            default=None,
        )
        if first is None:
            missing += 1
        else:
            delays.append(max(0.0, first - at))
    return delays, missing


async def _folded(settings: ProjectorSettings) -> None:
    """Until the read model holds every event stored (the streams open from it)."""
    while await asyncio.to_thread(maintenance.lag, settings):
        await asyncio.sleep(0.2)


async def _api_ready(port: int, apis: list[int]) -> None:
    """Until every API process listens on ``port`` and one answers ``/health/ready`` with 200
    (they start alongside the others; with several, the kernel picks who answers)."""
    for _ in range(600):
        listening = {
            pid
            for pid in apis
            for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        if listening == set(apis) and await _answers_ready(port):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the API did not become ready")


async def _answers_ready(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health/ready HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n")
        status = await reader.readline()
        writer.close()
        return b" 200 " in status
    except OSError:
        return False


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
    parser.add_argument(
        "--of",
        choices=["balance", "alerts", "both"],
        default="balance",
        help="what each stream is: a balance stream, an alerts stream, or one of each",
    )
    parser.add_argument("--apis", type=int, default=1, help="API processes sharing the port")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.accounts = args.accounts or args.streams
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the API's sockets: inherited
    connections = args.streams * (2 if args.of == "both" else 1)
    if connections * SPREAD / args.apis + SPARE_FILES > hard:
        sys.exit(
            f"{connections} streams over {args.apis} API process(es) need more sockets than a "
            f"process may open here ({hard} files, ulimit -Hn): fewer streams, or more API "
            "processes (--apis; SCALING.md)"
        )
    with throwaway(args.store, ProjectorSettings) as settings:
        asyncio.run(ensure_topics(settings))
        try:
            result = asyncio.run(bench(settings, args))
        finally:
            asyncio.run(delete_topics(settings))
    written(result, args.out)


if __name__ == "__main__":
    main()
