"""CPU seconds and peak memory per process while a benchmark runs (psutil, every 0.5 s).

CPU is what each process spent between ``start`` and ``stop`` (user + sys); peak RSS is the
highest sample. PostgreSQL backends are found by the client port of each connection our
processes hold to the database (a backend's title names it), so other engineers' backends on a
shared server are not counted; the broker is the process listening on the bootstrap port (on a
shared broker its CPU includes everyone's traffic).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

SAMPLE_S = 0.5
# How often the PostgreSQL backends are looked for again: finding them reads our processes'
# sockets and every process of the machine (5 ms of CPU or more each time), CPU the harness
# takes from the processes it measures on the same cores when done at every sample. Our
# processes hold their connections in pools, so a backend is found within this long of its
# start, and a backend found late still counts its CPU from its start.
FIND_BACKENDS_S = 5.0


@dataclass
class Usage:
    """What one named process (or group of processes) used."""

    cpu_s_start: dict[int, float] = field(default_factory=dict)
    cpu_s_last: dict[int, float] = field(default_factory=dict)
    rss_peak: int = 0

    def sample(self, processes: list[psutil.Process], since: float) -> None:
        """Note CPU and RSS; a process born after ``since`` (epoch s) counts from zero."""
        rss = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                with process.oneshot():
                    times = process.cpu_times()
                    cpu = times.user + times.system
                    rss += process.memory_info().rss
                    born = process.create_time()
                self.cpu_s_start.setdefault(process.pid, 0.0 if born >= since else cpu)
                self.cpu_s_last[process.pid] = cpu
        self.rss_peak = max(self.rss_peak, rss)

    def cpu_s(self) -> float:
        return sum(self.cpu_s_last[p] - self.cpu_s_start[p] for p in self.cpu_s_last)


class Sampler:
    """Samples ``named`` processes (and the database backends serving them) in the background."""

    def __init__(
        self, named: dict[str, int], kafka_port: int, postgres_port: int | None, since: float
    ) -> None:
        """``since``: the epoch time the measured window began (before the processes started)."""
        self.since = since
        self.named = {name: psutil.Process(pid) for name, pid in named.items()}
        self.named["harness"] = psutil.Process(os.getpid())
        if (broker := _listening_on(kafka_port)) is not None:
            self.named["kafka broker"] = broker
        self.postgres_port = postgres_port
        self.backends: list[psutil.Process] = []
        self.backends_found = -FIND_BACKENDS_S  # time.monotonic() they were last looked for
        self.usage = {name: Usage() for name in [*self.named, "postgres backends"]}
        self.task: asyncio.Task[None] | None = None
        self.began = self.ended = 0.0
        self.marks: list[tuple[str, dict[str, float]]] = []  # (phase, CPU s at its end)

    async def start(self) -> None:
        self.began = time.monotonic()
        self.task = asyncio.create_task(self._run())

    async def mark(self, phase: str) -> None:
        """Note what each process has spent so far as the end of ``phase`` (the report gives
        each phase's share: a process's cost per command differs between a flood and a
        steady rate)."""
        await asyncio.to_thread(self._sample, find_backends=True)
        spent = {name: usage.cpu_s() for name, usage in self.usage.items() if usage.cpu_s_last}
        self.marks.append((phase, spent))

    async def stop(self) -> dict[str, dict[str, Any]]:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self._sample(find_backends=True)
        self.ended = time.monotonic()
        return self.report()

    def report(self) -> dict[str, dict[str, Any]]:
        wall_s = max(self.ended - self.began, 1e-9)
        return {
            name: {
                "cpu_s": round(usage.cpu_s(), 1),
                "cpu_percent_of_one_core": round(100 * usage.cpu_s() / wall_s, 1),
                "rss_peak_mb": round(usage.rss_peak / 2**20, 1),
                **({"cpu_s_by_phase": self._by_phase(name)} if self.marks else {}),
            }
            for name, usage in self.usage.items()
            if usage.cpu_s_last
        }

    def _by_phase(self, name: str) -> dict[str, float]:
        """CPU s ``name`` spent in each marked phase (from the mark before it)."""
        spent, before = {}, 0.0
        for phase, at in self.marks:
            spent[phase] = round(at.get(name, before) - before, 2)
            before = at.get(name, before)
        return spent

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self._sample)
            await asyncio.sleep(SAMPLE_S)

    def _sample(self, find_backends: bool = False) -> None:
        """Note every process's CPU and RSS; at the phases' ends (``find_backends``), and
        every ``FIND_BACKENDS_S``, look for the PostgreSQL backends again first."""
        for name, process in self.named.items():
            self.usage[name].sample([process], self.since)
        if self.postgres_port is not None:
            if find_backends or time.monotonic() - self.backends_found >= FIND_BACKENDS_S:
                self.backends, self.backends_found = self._backends(), time.monotonic()
            self.usage["postgres backends"].sample(self.backends, self.since)

    def _backends(self) -> list[psutil.Process]:
        """The PostgreSQL backends serving our processes, by their clients' ports."""
        ports = set()
        for name, process in self.named.items():
            if name == "kafka broker":
                continue
            with contextlib.suppress(psutil.Error):
                for conn in process.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == self.postgres_port:
                        ports.add(f"({conn.laddr.port})")
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            title = " ".join(process.info["cmdline"] or ())
            if process.info["name"] == "postgres" and any(port in title for port in ports):
                found.append(process)
        return found


def _listening_on(port: int) -> psutil.Process | None:
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    return None
