"""End to end (issue 15): commands per second from the first send to the last outcome and the
last balance on Kafka, latency at a steady rate, CPU (in all and per phase) and memory per
process, and the two references (the Kafka ceiling and stock ``eventsourcing``) in the same
run; and whether the ledger and the projector ran compiled (``native``: ``services/native.py``).

    credits bench end-to-end [--store postgres|sqlite] [--ledgers 1] [--accounts 10000]
        [--commands 200000] [--producers 4] [--rate 2000 | --rate-of-capacity 0.6]
        [--seconds 30] [--naive-commands 20000] [--no-ceiling] [--no-naive] [--out PATH]

Ledger(s) and projector run as their own processes in a throwaway namespace (topic prefix, SQLite
file or PostgreSQL schema). Every message is encoded before any clock starts. Phases: set-up
(accounts opened, reported apart), throughput (``--producers`` raw producers flood ``--commands`` of
the issue's mix, ``benchmarks/mix.py``), latency (``--rate`` per second for ``--seconds``, or
``--rate-of-capacity`` times the throughput phase's commands per second). The harness settles its
collector as the services do (``services.gc_tuning``), so that its own pauses are not counted as
theirs. Exits 1 if any command got no outcome, a balance never arrived, or a retry took effect
twice. Appends one entry to benchmarks/results/end_to_end.json (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import producers, report
from benchmarks.arrivals import Outcomes, Settled, Step, settle
from benchmarks.balance_latency import Balances, start_processes, stop_processes
from benchmarks.ceiling import ceiling
from benchmarks.mix import Mix, by_producer, encoded
from benchmarks.naive import naive
from benchmarks.throwaway import throwaway
from benchmarks.usage import Sampler
from events.commands import Command
from projections.settings import ProjectorSettings
from services import gc_tuning, progress
from services.settings import REPO
from services.topics import delete_topics, ensure_topics

RESULTS = REPO / "benchmarks" / "results" / "end_to_end.json"
# Send → balance, hop by hop, from each record's own time (set by its producer: the ledger
# stamps an outcome as it publishes it, after deciding; the projector stamps a balance after
# folding its page). Every process shares this machine's clock.
HOPS = (
    "sent → outcome published (delivery, fetch, the batch before, deciding)",
    "outcome published → read (acknowledgement, fetch)",
    "outcome published → balance published (commit, projector wake-up, page)",
    "balance published → read (acknowledgement, fetch)",
)
NO_METRICS = {"KALEMA_LEDGER_METRICS_PORT": "0", "KALEMA_PROJECTOR_METRICS_PORT": "0"}


class Run:
    """One run's workload, processes and readers."""

    def __init__(self, args: argparse.Namespace, settings: ProjectorSettings) -> None:
        self.args, self.settings = args, settings
        self.mix = mix = Mix(args.accounts)
        self.opening = mix.opening()
        self.flood = mix.commands(args.commands, retries=args.retries)
        self.paced = mix.commands(round(args.rate * args.seconds), retries=0.0)
        self.wire = {name: encoded(c) for name, c in self.batches().items()}
        # The harness holds every command and its bytes (600 MB): its own full collections
        # paused its producer and readers for up to 260 ms, and counted as the system's
        # latency. It settles its collector as the ledger and the projector do.
        gc_tuning.settle_for_a_long_run()
        self.outcomes, self.balances = Outcomes(settings), Balances(settings)
        self.sent: Counter[str] = Counter()  # sends per command_id in the phases so far

    def batches(self) -> dict[str, list[Command]]:
        return {"set-up": self.opening, "throughput": self.flood, "latency": self.paced}

    async def phase(self, name: str) -> tuple[float, Settled]:
        """Flood one batch through ``--producers`` producers and wait for it to settle;
        returns when the first send began, and how the batch ended."""
        shares = by_producer(self.wire[name], self.args.producers)
        topic, total = self.settings.topic["commands"], len(self.wire[name])
        with progress.bar(f"{name}: sending") as step:
            began = await producers.flood(self.settings, topic, shares, lambda n: step(n, total))
        with progress.bar(f"{name}: outcomes, then balances") as step:
            settled = await self.settle(self.batches()[name], step)
        return began, settled

    async def latency(self) -> tuple[Settled, dict[str, dict[str, float]]]:
        """Send at a steady rate; each command's delay to its outcome and to its balance."""
        topic, total = self.settings.topic["commands"], len(self.paced)
        with progress.bar("latency: sending at a steady rate") as step:
            sent_at = await producers.paced(
                self.settings, topic, self.wire["latency"], self.args.rate, lambda n: step(n, total)
            )
        with progress.bar("latency: outcomes, then balances") as step:
            settled = await self.settle(self.paced, step)
        to_outcome, to_balance = [], []
        hops: dict[str, list[float]] = {hop: [] for hop in HOPS}
        wall = time.time() - time.monotonic()  # record times are the producers' wall clocks
        for command, began in zip(self.paced, sent_at, strict=True):
            if (first := self.outcomes.first.get(command.command_id)) is None:
                continue
            to_outcome.append(first[0] - began)
            if first[1] is None:
                continue
            arrived = self.balances.at(command.account_id, first[1])
            if not arrived.done():
                continue
            to_balance.append(arrived.result() - began)
            decided = self.outcomes.stamped[command.command_id]
            projected = self.balances.stamped(command.account_id, first[1])
            assert projected is not None
            for hop, seconds in zip(
                HOPS,
                (
                    decided - (began + wall),
                    first[0] + wall - decided,
                    projected - decided,
                    arrived.result() + wall - projected,
                ),
                strict=True,
            ):
                hops[hop].append(seconds)
        delays = {
            "send_to_outcome": report.percentiles(to_outcome),
            "send_to_balance": report.percentiles(to_balance),
            "hops": {hop: report.percentiles(seconds) for hop, seconds in hops.items()},
        }
        return settled, delays

    def pace_at(self, rate: float) -> None:
        """The latency phase at ``rate`` per second instead of ``--rate`` (its commands made
        and encoded anew, before its clock starts)."""
        self.args.rate = round(rate)
        self.paced = self.mix.commands(round(self.args.rate * self.args.seconds), retries=0.0)
        self.wire["latency"] = encoded(self.paced)

    async def settle(self, batch: list[Command], step: Step) -> Settled:
        earlier = self.sent.copy()
        self.sent.update(c.command_id for c in batch)
        return await settle(
            self.outcomes, self.balances, batch, earlier, self.args.stall_seconds, step
        )

    async def measure(self) -> dict[str, Any]:
        """Start the processes, run the three phases, stop; the figures and the usage."""
        await ensure_topics(self.settings)
        since, started = time.time(), time.monotonic()
        modules = ("services.ledger",) * self.args.ledgers + ("projections",)
        processes = start_processes(self.settings, modules, NO_METRICS)
        sampler = self.sampler(processes, since)
        await sampler.start()
        await self.outcomes.tail.start()
        await self.balances.start()
        try:
            setup = await self.phase("set-up")
            await sampler.mark("set-up")
            flood = await self.phase("throughput")
            await sampler.mark("throughput")
            if self.args.rate_of_capacity:
                self.pace_at(self.args.rate_of_capacity * throughput(len(self.flood), flood))
                await sampler.mark("encoding")  # the harness's, apart from the latency phase
            latency, delays = await self.latency()
            await sampler.mark("latency")
        finally:
            usage = await sampler.stop()
            await self.outcomes.tail.stop()
            await self.balances.stop()
            stop_processes(processes)
        return report.measured(self, started, setup, flood, latency, delays, usage)

    def sampler(self, processes: list[subprocess.Popen[bytes]], since: float) -> Sampler:
        ledgers = [f"ledger {n + 1}" for n in range(self.args.ledgers)]
        port = int(self.settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])
        return Sampler(
            {name: p.pid for name, p in zip([*ledgers, "projector"], processes, strict=True)},
            port,
            self.settings.postgres_port if self.settings.event_store == "postgres" else None,
            since,
        )

    async def references(self) -> dict[str, Any]:
        """The Kafka ceiling and the naive baseline, on the same pre-encoded messages."""
        found: dict[str, dict[str, Any]] = {}
        if not self.args.no_ceiling:
            shares = by_producer(self.wire["throughput"], self.args.producers)
            total = len(self.wire["throughput"])
            with progress.bar("Kafka ceiling: sending") as step:
                found["kafka_ceiling"] = await ceiling(
                    self.settings, shares, lambda n: step(n, total)
                )
        if not self.args.no_naive:
            subset = self.wire["throughput"][: self.args.naive_commands]
            with progress.bar("naive eventsourcing: deciding") as step:
                found["naive_eventsourcing"] = await asyncio.to_thread(
                    naive, self.settings, self.wire["set-up"], subset, self.args.accounts, step
                )
        return found


def compiled_services() -> bool:
    """Whether the ledger and the projector this run started ran their core and folds
    compiled (``services/native.py``): as Python they cost about a fifth more, and a build
    left stale by an edit runs them as Python without a word. False for a commit from before
    the build existed (this harness is copied into an older commit's worktree to compare)."""
    try:
        from services import native
    except ImportError:
        return False
    return native.available()


def throughput(commands: int, flood: tuple[float, Settled]) -> float:
    """Commands per second of a phase, from its first send to its last balance."""
    began, settled = flood
    return commands / (settled.last_balance - began)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with throwaway(args.store, ProjectorSettings) as settings:
        try:
            one = Run(args, settings)
            figures = await one.measure()
            figures["native"] = compiled_services()
            figures["references"] = await one.references()
        finally:
            await delete_topics(settings)
    return report.completed(args, figures)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--ledgers", type=int, default=1)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--retries", type=float, default=0.01, help="share of producer retries")
    parser.add_argument("--rate", type=float, default=2_000.0, help="latency phase, per second")
    parser.add_argument(
        "--rate-of-capacity",
        type=float,
        default=None,
        metavar="SHARE",
        help="latency phase at this share of the throughput just measured (0.6: 60 %%)",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="latency phase length")
    parser.add_argument("--naive-commands", type=int, default=20_000)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the Kafka ceiling")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=60.0,
        help="give up waiting when nothing arrived for this long",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = asyncio.run(run(args))
    report.table(result)
    report.append(args.out, result)
    if result["lost"]:
        print(f"LOST WORK: {result['lost']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
