"""The end-to-end benchmark's figures: assembled from the phases, shown as a table, and
appended as one JSON entry per run (``benchmarks/end_to_end.py``)."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from benchmarks.arrivals import Settled

if TYPE_CHECKING:
    from benchmarks.end_to_end import Run


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest rank), and how many were measured."""
    ordered = sorted(seconds)
    if not ordered:
        return {"measured": 0}

    def ms(p: float) -> float:
        return round(1000 * ordered[max(0, math.ceil(p * len(ordered)) - 1)], 1)

    return {
        "measured": len(ordered),
        "p50_ms": ms(0.50),
        "p95_ms": ms(0.95),
        "p99_ms": ms(0.99),
        "max_ms": round(1000 * ordered[-1], 1),
    }


def per_s(commands: int, seconds: float) -> int | None:
    return round(commands / seconds) if seconds > 0 else None


def measured(
    run: Run,
    started: float,
    setup: tuple[float, Settled],
    flood: tuple[float, Settled],
    latency: Settled,
    delays: dict[str, dict[str, float]],
    usage: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """The run's figures; ``started`` is when the processes were started (monotonic)."""
    (setup_began, opened), (began, done) = setup, flood
    opened_ids = {c.command_id for c in run.opening}
    sent, everything = len(run.flood), len(run.opening) + len(run.flood)
    to_outcome, to_balance = done.last_outcome - began, done.last_balance - began
    with_startup = done.last_balance - started
    phases = {"set-up": len(run.opening), "throughput": sent, "latency": len(run.paced)}
    for use in usage.values():
        spent = use.get("cpu_s_by_phase", {})
        use["cpu_us_per_command_by_phase"] = {
            phase: round(seconds * 1e6 / phases[phase], 1)
            for phase, seconds in spent.items()
            if phases.get(phase)
        }
    return {
        "setup": {
            "accounts": run.args.accounts,
            "commands": len(run.opening),
            "seconds": round(opened.last_balance - setup_began, 2),
            "commands_per_s": per_s(len(run.opening), opened.last_balance - setup_began),
        },
        "throughput": {
            "commands": sent,
            "retries_sent": sent - len({c.command_id for c in run.flood} - opened_ids),
            "retries_answered_as_repeats": done.repeats,
            "seconds_to_last_outcome": round(to_outcome, 2),
            "commands_per_s_to_last_outcome": per_s(sent, to_outcome),
            "seconds_to_last_balance": round(to_balance, 2),
            "commands_per_s_to_last_balance": per_s(sent, to_balance),
            "with_startup": {
                "commands": everything,
                "seconds": round(with_startup, 2),
                "commands_per_s": per_s(everything, with_startup),
            },
        },
        "latency": {
            "rate_per_s": run.args.rate,
            "rate_of_capacity": run.args.rate_of_capacity,
            "commands": len(run.paced),
            **delays,
        },
        "resources": usage,
        "lost": _lost({"set-up": opened, "throughput": done, "latency": latency}),
    }


def _lost(phases: dict[str, Settled]) -> dict[str, dict[str, int]]:
    lost = {}
    for name, settled in phases.items():
        counts = {
            "outcomes_missing": settled.outcomes_missing,
            "balances_missing": settled.balances_missing,
            "second_effects": settled.second_effects,
        }
        if any(counts.values()):
            lost[name] = counts
    return lost


def completed(args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    """The entry for the results file: when, where, with what, and our figure as ratios."""
    ours = figures["throughput"]["commands_per_s_to_last_balance"] or 0
    references = figures.get("references", {})
    figures["ratios"] = {
        f"ours_to_{name}": round(ours / found["commands_per_s"], 2)
        for name, found in references.items()
        if found.get("commands_per_s")
    }
    if "naive_eventsourcing" in references:
        references["naive_eventsourcing"]["note"] = (
            f"on the first {references['naive_eventsourcing']['commands']} commands only"
        )
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "store": args.store,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "arch": platform.machine(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        **figures,
    }


def table(result: dict[str, Any]) -> None:
    """The figures as a table on stdout."""
    out = Table(title=f"end to end, {result['store']} ({result['measured_at']})")
    out.add_column("what")
    out.add_column("figure", justify="right")
    t = result["throughput"]
    out.add_row("commands/s, first send → last outcome", str(t["commands_per_s_to_last_outcome"]))
    out.add_row("commands/s, first send → last balance", str(t["commands_per_s_to_last_balance"]))
    out.add_row(
        "commands/s, processes started → last balance (incl. set-up)",
        str(t["with_startup"]["commands_per_s"]),
    )
    out.add_row("set-up commands/s (not in the headline)", str(result["setup"]["commands_per_s"]))
    if "native" in result:
        form = "compiled (services/native.py)" if result["native"] else "Python"
        out.add_row("ledger and projector ran as", form)
    for name, found in result.get("references", {}).items():
        ratio = result["ratios"].get(f"ours_to_{name}")
        out.add_row(f"{name} commands/s (ours: {ratio} times)", str(found["commands_per_s"]))
    latency = result["latency"]
    for path, figures in [*latency.items(), *latency.get("hops", {}).items()]:
        if isinstance(figures, dict) and "measured" in figures:
            shown = " / ".join(
                str(figures.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")
            )
            out.add_row(f"{path} ms p50/p95/p99/max", shown)
    for name, use in result["resources"].items():
        out.add_row(
            f"{name}: CPU s, % of a core, peak RSS MB",
            f"{use['cpu_s']} / {use['cpu_percent_of_one_core']} / {use['rss_peak_mb']}",
        )
        if per_command := use.get("cpu_us_per_command_by_phase"):
            out.add_row(
                f"{name}: CPU µs per command, {' / '.join(per_command)}",
                " / ".join(str(us) for us in per_command.values()),
            )
    out.add_row("lost work", json.dumps(result["lost"]) if result["lost"] else "none")
    Console().print(out)


def append(path: Path, result: dict[str, Any]) -> None:
    """Add this run to the results file (a JSON list, one entry per run)."""
    runs = json.loads(path.read_text()) if path.exists() else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([*runs, result], indent=2) + "\n")


def written(results: dict[str, Any], path: Path) -> None:
    """Print a benchmark's figures, one a line, and write them to ``path`` as JSON."""
    for key, value in results.items():
        print(f"{key:>30}: {value}")
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {path}")
