"""``credits``: one command line for operators and auditors.

credits run ledger|projector|clock|api|all    run a service (all: as make run does)
credits topics                                create the topics (idempotent)
credits read-model rebuild|check|lag          the balance read model, with progress bars
credits finance report --from --to            purchased credits' value, subscription breakage
credits audit ACCOUNT / verify / index        the auditor's commands (services/cli/audit.py)
credits payments reconcile --since DATE       the provider's payments against the ledger
credits bench end-to-end|ledger-throughput|projector-throughput|...  the benchmarks

Settings come from the environment as for every service (``KALEMA_*``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from enum import StrEnum
from typing import Annotated

import typer

from projections import finance_output, maintenance
from projections.finance_output import MONTH
from projections.settings import ProjectorSettings
from services import progress
from services.cli import audit
from services.cli.payments import payments
from services.going_live import refuse_lab_settings
from services.settings import REPO, Settings

app = typer.Typer(help="Run, check and audit Kalema Credits.", no_args_is_help=True)
app.command()(audit.audit)
app.command()(audit.verify)
app.add_typer(audit.index, name="index")
read_model = typer.Typer(help="The balance read model: rebuild, check, lag.", no_args_is_help=True)
app.add_typer(read_model, name="read-model")
finance_app = typer.Typer(help="Finance: deferred revenue and breakage.", no_args_is_help=True)
app.add_typer(finance_app, name="finance")
app.add_typer(payments, name="payments")


@app.callback()
def going_live() -> None:
    """In production, refuse the lab settings before any command (``services.going_live``)."""
    refuse_lab_settings(Settings())


class Service(StrEnum):
    ledger = "ledger"
    projector = "projector"
    clock = "clock"
    api = "api"
    all = "all"


class Bench(StrEnum):
    balance_latency = "balance-latency"
    ledger_throughput = "ledger-throughput"
    projector_throughput = "projector-throughput"
    replay = "replay"
    end_to_end = "end-to-end"
    long_account = "long-account"
    storage = "storage"
    clients = "clients"
    finance_report = "finance-report"
    live_streams = "live-streams"
    hot_path = "hot-path"
    event_reading = "event-reading"
    ledger_edge = "ledger-edge"
    ledger_commit = "ledger-commit"
    sqlite_writes = "sqlite-writes"


@app.command()
def run(service: Service) -> None:
    """Run one service until SIGTERM or Ctrl-C (all: every one, as make run does)."""
    code: int | None = 0
    if service is Service.ledger:
        from services.ledger.__main__ import main as ledger

        ledger()
    elif service is Service.projector:
        from projections.__main__ import main as projector

        code = projector(["run"])
    elif service is Service.clock:
        from services.clock.__main__ import main as clock

        clock()
    elif service is Service.api:
        from services.api.__main__ import main as api

        code = api()
    else:
        from services.run import main as everything

        code = everything()
    raise typer.Exit(code or 0)


@app.command()
def topics() -> None:
    """Create every topic that does not exist yet, with its partitions and settings."""
    from services.topics import ensure_topics

    settings = Settings()
    asyncio.run(ensure_topics(settings))
    for name in settings.topic.values():
        typer.echo(name)


@read_model.command()
def rebuild() -> None:
    """Drop the read model and fold it anew from every stored event."""
    with progress.bar("folding the ledger's log") as step:
        accounts, position = maintenance.rebuild(ProjectorSettings(), step)
    typer.echo(f"rebuilt {accounts} accounts up to notification {position}")


@read_model.command()
def check() -> None:
    """Compare the read model with the core's replay; exit 1 on any difference."""
    with progress.bar("replaying accounts") as step:
        position, differences = maintenance.check(ProjectorSettings(), step)
    for difference in differences:
        typer.echo(str(difference))
    verdict = f"{len(differences)} differences" if differences else "read model agrees"
    typer.echo(f"{verdict} with the core's replay up to notification {position}")
    raise typer.Exit(1 if differences else 0)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _month(value: str) -> str:
    if not MONTH.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a month (YYYY-MM)")
    return value


@finance_app.command()
def report(
    first: Annotated[str, typer.Option("--from", callback=_month, help="first month, YYYY-MM")],
    last: Annotated[str, typer.Option("--to", callback=_month, help="last month, YYYY-MM")],
    format: Annotated[Format, typer.Option(help="how to print it")] = Format.table,
) -> None:
    """Per account and in total, from the read model: purchased credits and their value in
    cents (opening, bought, consumed, refunded, forfeited, closing), subscription credits by
    plan and granted credits (granted, used, expired)."""
    if first > last:
        raise typer.BadParameter(f"--from {first} is after --to {last}")
    with progress.bar("reading the months", after_s=1) as step:
        got = maintenance.finance(ProjectorSettings(), first, last, lambda n: step(n, n))
    typer.echo(finance_output.render(got, format.value), nl=False)


@read_model.command()
def lag() -> None:
    """Events the ledger stored that the read model has not folded yet."""
    typer.echo(str(maintenance.lag(ProjectorSettings())))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    which: Annotated[Bench, typer.Argument(help="which benchmark")],
) -> None:
    """Run a benchmark from benchmarks/ (a source checkout); extra arguments go to it."""
    module = f"benchmarks.{which.value.replace('-', '_')}"
    if not (REPO / "benchmarks").is_dir():
        typer.echo("the benchmarks live in a source checkout, not in the package", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, "-m", module, *ctx.args], cwd=REPO))
