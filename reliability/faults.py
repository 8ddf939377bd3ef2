"""The fault run: commands through two ledger processes and two projectors (one active, one
standby) on PostgreSQL, while processes are killed and stalled and the broker and the
database are restarted; then nothing may be lost, applied twice or stuck.

    python -m reliability.faults                          # 100,000 commands, 10,000 accounts,
                                                          # private broker and PostgreSQL
    python -m reliability.faults --commands 3000 --accounts 300 --shared --faults short

``--shared`` uses the shared broker and PostgreSQL (process faults only: never restart
those). The private ones (``reliability.infra``) listen on 19092/19093 and 5442.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability import verdict
from reliability.harness import namespace, start
from reliability.infra import PrivateKafka, PrivatePostgres
from reliability.progress import Progress
from services import kafka_clients
from services.settings import Settings
from tests.workload import command_log

FULL = [
    (0.08, "kill_ledger"),
    (0.16, "kill_ledger"),
    (0.24, "kill_ledger"),
    (0.32, "kill_ledger"),
    (0.40, "kill_ledger"),
    (0.50, "stall_ledger"),
    (0.62, "restart_broker"),
    (0.74, "restart_postgres"),
    (0.86, "kill_projector"),
]
SHORT = [(0.3, "kill_ledger"), (0.6, "kill_projector")]
SESSION_TIMEOUT_MS = 6000  # the broker's minimum: a stalled ledger is noticed soonest
LEASE_MS = 3000


@dataclass
class Cluster:
    """The processes under test, restarted by the run when a fault (or anything) stops them."""

    settings: Settings
    logs: Path
    ledgers: list[Any] = field(default_factory=list)
    projectors: list[Any] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)

    def ledger(self, n: int) -> Any:
        return start(
            "services.ledger",
            self.settings,
            self.logs / f"ledger-{n}.log",
            ledger_session_timeout_ms=SESSION_TIMEOUT_MS,
            ledger_batch_max_records=200,
        )

    def projector(self, n: int) -> Any:
        return start(
            "projections",
            self.settings,
            self.logs / f"projector-{n}.log",
            projector_lease_ms=LEASE_MS,
            projector_retry_delay_ms=200,
        )

    def start(self) -> None:
        self.ledgers = [self.ledger(0), self.ledger(1)]
        self.projectors = [self.projector(0), self.projector(1)]

    def supervise(self) -> None:
        """Restart whatever exited, as a process supervisor would, and say so."""
        for kind, processes, make in (
            ("ledger", self.ledgers, self.ledger),
            ("projector", self.projectors, self.projector),
        ):
            for n, process in enumerate(processes):
                if process.poll() is not None:
                    self.unexpected_exits.append(f"{kind} {n} exited {process.returncode}")
                    processes[n] = make(n)

    def kill(self, processes: list[Any], n: int) -> None:
        processes[n].send_signal(signal.SIGKILL)
        processes[n].wait()
        processes[n] = (self.ledger if processes is self.ledgers else self.projector)(n)

    def stop(self) -> None:
        for process in self.ledgers + self.projectors:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.ledgers + self.projectors:
            try:
                process.wait(40)
            except Exception:
                process.kill()


async def produce(settings: Settings, log: list[Any], rate: int, progress: Progress) -> None:
    """The log at about ``rate`` commands a second; a chunk the broker did not take (it was
    restarting) is sent again: a repeat is answered from the first outcome, by ``command_id``."""
    producer = kafka_clients.producer(settings, acks="all", linger_ms=5)
    await producer.start()
    chunk = max(1, rate // 5)
    try:
        for n in range(0, len(log), chunk):
            pending = log[n : n + chunk]
            while pending:
                try:
                    futures = [
                        await producer.send(
                            settings.topic["commands"],
                            c.model_dump_json().encode(),
                            key=c.account_id.encode(),
                        )
                        for c in pending
                    ]
                    results = await asyncio.gather(*futures, return_exceptions=True)
                except Exception:
                    await asyncio.sleep(1)
                    continue
                for r in results:
                    if not isinstance(r, BaseException):
                        progress.produced(r.partition, r.offset)
                pending = [
                    c for c, r in zip(pending, results, strict=True) if isinstance(r, BaseException)
                ]
                if pending:
                    await asyncio.sleep(1)
            await asyncio.sleep(chunk / rate)
    finally:
        await producer.stop()


@dataclass
class Faults:
    """What the run does to the system, and how long each took to recover from."""

    cluster: Cluster
    progress: Progress
    kafka: PrivateKafka | None
    postgres: PrivatePostgres | None
    done: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[asyncio.Task[None]] = field(default_factory=list)
    _kills: int = 0

    async def inflict(self, name: str, at: int) -> None:
        """Do ``name`` and measure its recovery in the background (the next fault does not
        wait for it): from the fault's start until all that was produced up to a second after
        it is stored (ledger faults), or all that was stored by then is folded (projector)."""
        started = time.monotonic()
        await getattr(self, name)()
        took = time.monotonic() - started
        self.recoveries.append(asyncio.create_task(self._recovered(name, at, took)))

    async def _recovered(self, name: str, at: int, took: float) -> None:
        await asyncio.sleep(1.0)  # so that what the stopped process owned counts
        if name == "kill_projector":
            stored = await asyncio.to_thread(self.progress.stored) or 0
            recovery = await self.progress.projector_recovered(stored, 300)
        else:
            recovery = await self.progress.ledger_recovered(dict(self.progress.ends), 300)
        recovery = None if recovery is None else recovery + 1.0
        self.done.append(
            {
                "fault": name,
                "at_produced": at,
                "fault_s": round(took, 1),
                "recovered_s": None if recovery is None else round(took + recovery, 1),
            }
        )
        print(json.dumps(self.done[-1]), flush=True)

    async def kill_ledger(self) -> None:
        self._kills += 1
        self.cluster.kill(self.cluster.ledgers, self._kills % 2)

    async def stall_ledger(self) -> None:
        """SIGSTOP past the session timeout (the group moves on), then SIGCONT: a zombie."""
        zombie = self.cluster.ledgers[0]
        zombie.send_signal(signal.SIGSTOP)
        await asyncio.sleep(SESSION_TIMEOUT_MS / 1000 + 4)
        zombie.send_signal(signal.SIGCONT)

    async def restart_broker(self) -> None:
        assert self.kafka is not None, "the broker is restarted only when it is our own"
        await asyncio.to_thread(self.kafka.restart)

    async def restart_postgres(self) -> None:
        assert self.postgres is not None, "PostgreSQL is restarted only when it is our own"
        await asyncio.to_thread(self.postgres.restart)

    async def kill_projector(self) -> None:
        """Kill the active projector (the lease names its pid): the standby must take over."""
        pid = await asyncio.to_thread(self.progress.active_projector_pid)
        pids = [p.pid for p in self.cluster.projectors]
        self.cluster.kill(self.cluster.projectors, pids.index(pid) if pid in pids else 0)


async def run(
    settings: Settings, commands: int, accounts: int, schedule: list[tuple[float, str]],
    kafka: PrivateKafka | None, postgres: PrivatePostgres | None, logs: Path, rate: int,
) -> dict[str, Any]:  # fmt: skip
    began = time.monotonic()
    log = command_log(commands, accounts, seed=17)
    progress = Progress(settings)
    cluster = Cluster(settings, logs)
    faults = Faults(cluster, progress, kafka, postgres)
    cluster.start()
    producing = asyncio.create_task(produce(settings, log, rate, progress))
    try:
        for fraction, name in schedule:  # while commands flow: at a share of those produced
            while (at := progress.sent) < fraction * commands:
                cluster.supervise()
                await asyncio.sleep(0.1)
            await faults.inflict(name, at)
        await producing
        stuck = await _until_drained(progress, cluster, 300)
        await asyncio.gather(*faults.recoveries)
    finally:
        producing.cancel()
        for recovery in faults.recoveries:
            recovery.cancel()
        cluster.stop()
        progress.close()
    report = await _verdict(settings, progress, stuck)
    report |= {
        "commands_generated": commands,
        "accounts": accounts,
        "faults": sorted(faults.done, key=lambda f: f["at_produced"]),
        "unexpected_exits": cluster.unexpected_exits,
        "seconds": round(time.monotonic() - began, 1),
    }
    return report


async def _until_drained(progress: Progress, cluster: Cluster, timeout_s: float) -> dict[int, int]:
    """Until the ledger has stored every partition's end and the read model has folded every
    event; returns the partitions still behind (stuck) and how far."""
    deadline = time.monotonic() + timeout_s
    behind: dict[int, int] = dict(progress.ends)
    while time.monotonic() < deadline:
        cluster.supervise()
        positions = await asyncio.to_thread(progress.positions)
        if positions is not None:
            behind = {p: e - positions[p] for p, e in progress.ends.items() if positions[p] < e}
            if not behind and await asyncio.to_thread(progress.lag) == 0:
                return {}
        await asyncio.sleep(0.2)
    return behind


async def _verdict(settings: Settings, progress: Progress, stuck: dict[int, int]) -> dict[str, Any]:
    log = await verdict.command_log(settings, sum(progress.ends.values()))
    streams = await asyncio.to_thread(verdict.compare_streams, settings, verdict.oracle(log))
    balances = await verdict.compare_balances(settings)
    return {
        "commands_in_the_log": len(log),
        "stuck_partitions": stuck,
        "stuck": len(stuck),
        **streams,
        **balances,
        "unanswered_commands": await verdict.unanswered(settings, log),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    schedule = SHORT if args.faults == "short" else FULL
    kafka = postgres = None
    knobs: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="kalema-faults-"))
    if not args.shared:
        kafka, postgres = PrivateKafka(work / "kafka"), PrivatePostgres()
        await asyncio.to_thread(kafka.start)
        await asyncio.to_thread(postgres.start)
        knobs = {"kafka_bootstrap_servers": kafka.bootstrap, "postgres_port": postgres.port}
    try:
        async with namespace("postgres", work, **knobs) as settings:
            report = await run(
                settings, args.commands, args.accounts, schedule, kafka, postgres, work, args.rate
            )
    finally:
        if kafka is not None and postgres is not None and not args.keep_infra:
            await asyncio.to_thread(kafka.stop)
            await asyncio.to_thread(postgres.stop)
    return report | {"logs": str(work)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.faults", description=__doc__)
    parser.add_argument("--commands", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1000, help="commands produced per second")
    parser.add_argument("--faults", choices=["full", "short"], default="full")
    parser.add_argument("--shared", action="store_true", help="shared infra: process faults only")
    parser.add_argument("--keep-infra", action="store_true")
    args = parser.parse_args(argv)
    if args.shared and args.faults == "full":
        parser.error("--shared allows process faults only: add --faults short")
    report = asyncio.run(main_async(args))
    print(json.dumps(report, indent=2))
    clean = not (report["lost"] or report["applied_twice"] or report["different"])
    clean = clean and not (report["stuck"] or report["stale"] or report["unanswered_commands"])
    return 0 if clean and not report["read_model_differences_from_the_core"] else 1


if __name__ == "__main__":
    sys.exit(main())
