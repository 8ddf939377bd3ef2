"""The auditor's commands of ``credits`` (registered by ``services.cli``).

credits audit ACCOUNT [--at 2026-11-20T12:00:00Z] [--json | --csv]
credits verify [--chain] [--checkpoints]
credits index rebuild
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table
from rich.text import Text

from projections import history, maintenance
from projections.settings import ProjectorSettings
from services import progress
from services.audit.checkpoints import read_heads
from services.audit.verify import verify as verify_store
from services.display_text import csv_cell, printable
from services.ledger.store import LedgerStore

Store = Annotated[str | None, typer.Option(help="sqlite or postgres (default: settings)")]


def _settings(store: str | None) -> ProjectorSettings:
    if store is None:
        return ProjectorSettings()
    return ProjectorSettings(event_store=store)  # type: ignore[arg-type]


def _store(store: str | None) -> LedgerStore:
    return LedgerStore(_settings(store))


def audit(
    account: str,
    at: Annotated[datetime | None, typer.Option(help="show the state at this instant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    store: Store = None,
) -> None:
    """The full history of ACCOUNT with running balances, or its state at one instant."""
    ledger = _store(store)
    events = [recorded.event for recorded in ledger.stream(account)]
    if not events:
        typer.echo(f"no events for account {account!r}", err=True)
        raise typer.Exit(1)
    if at is not None:
        if at.tzinfo is None:
            raise typer.BadParameter(
                "give a timezone, e.g. 2026-11-20T12:00:00Z", param_hint="--at"
            )
        _print_at(account, events, at, as_json)
        return
    table = history.rows(events)
    if as_json:
        typer.echo(json.dumps([_plain(row) for row in table], indent=2, default=str))
    elif as_csv:
        writer = csv.DictWriter(
            sys.stdout, fieldnames=[f.name for f in dataclasses.fields(history.Row)]
        )
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in _plain(row).items()} for row in table)
    else:
        _print_table(account, table)


def verify(
    chain: Annotated[bool, typer.Option("--chain", help="also check every hash chain")] = False,
    checkpoints: Annotated[
        bool,
        typer.Option(
            "--checkpoints", help="also compare every stream with its chain-head checkpoint"
        ),
    ] = False,
    read_model: Annotated[
        bool, typer.Option(help="also compare the balance read model with the replay")
    ] = True,
    store: Store = None,
) -> None:
    """Replay every account and compare with its snapshots, its history index and the
    balance read model (with --chain, check every hash chain; with --checkpoints, compare
    every stream with its chain head on the Kafka topic). Exits 1 if anything disagrees."""
    settings = _settings(store)
    heads, problems = None, []
    if checkpoints:
        try:
            heads, unreadable = asyncio.run(read_heads(settings))
        except (KafkaError, TimeoutError) as error:
            typer.echo(f"cannot read the chain-heads topic: {error!r}", err=True)
            raise typer.Exit(2) from error
        problems += [f"checkpoints: record {p}/{o} is no checkpoint" for p, o in unreadable]
    ledger = LedgerStore(settings, build_index=False)  # check the index as it is, not rebuilt
    try:
        with progress.bar("replaying accounts") as step:
            found = verify_store(ledger, chain=chain, heads=heads, progress=step)
            problems += [str(f) for f in found]
    finally:
        ledger.close()
    if read_model:
        with progress.bar("checking the read model") as step:
            problems += [f"read model: {d}" for d in maintenance.check(settings, step)[1]]
    for problem in problems:
        typer.echo(printable(problem))
    typer.echo(f"{len(problems)} problem(s) found" if problems else "all accounts verified")
    raise typer.Exit(1 if problems else 0)


index = typer.Typer(help="The history index: what the rules look up of an account's past.")


@index.command("rebuild")
def rebuild_index(store: Store = None) -> None:
    """Point every key of the history index at its event, read from the whole log.

    Safe while the ledger runs (a key only ever moves forward). The store builds the index by
    itself the first time it opens streams stored before the index existed; this rebuilds it
    on demand, say after restoring the database from a backup."""
    ledger = LedgerStore(_settings(store), build_index=False)
    try:
        total = ledger.recorder.max_notification_id() or 0
        with Progress(
            *Progress.get_default_columns(), MofNCompleteColumn(), console=Console(stderr=True)
        ) as progress:
            task = progress.add_task("indexing events", total=total)
            read = ledger.rebuild_index(lambda n: progress.advance(task, n))
    finally:
        ledger.close()
    typer.echo(f"indexed {read} events")


def _print_at(account: str, events: list, moment: datetime, as_json: bool) -> None:
    state, figures = history.at(events, moment)
    summary = {
        "account_id": account,
        "at": moment.isoformat(),
        "version": state.version,
        "plan": state.plan,
        "cycle_end": state.cycle_end.isoformat() if state.cycle_end else None,
        **figures._asdict(),
        "total": figures.total,
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    for key, value in summary.items():
        typer.echo(f"{key:>13}: {printable(str(value))}")


def _print_table(account: str, table: list[history.Row]) -> None:
    """A rich table whose cells are plain ``Text``: never parsed as markup, and with control
    characters shown as escapes (``safe.printable``)."""
    view = Table(title=Text(f"account {printable(account)}"))
    for column in (
        "#",
        "time",
        "command",
        "what happened",
        "tool/package",
        "sub Δ",
        "purch Δ",
        "held Δ",
        "subscription",
        "purchased",
        "total",
    ):
        view.add_column(
            column,
            justify="right"
            if "Δ" in column or column in ("#", "subscription", "purchased", "total")
            else "left",
        )
    for row in table:
        cells = (
            str(row.version),
            f"{row.at:%Y-%m-%d %H:%M:%S}",
            row.command_id,
            row.what,
            row.item,
            _signed(row.subscription_change),
            _signed(row.purchased_change),
            _signed(row.held_change),
            str(row.subscription),
            str(row.purchased),
            str(row.total),
        )
        view.add_row(*(Text(printable(cell)) for cell in cells))
    Console().print(view)


def _plain(row: history.Row) -> dict[str, object]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in dataclasses.asdict(row).items()
    }


def _signed(n: int) -> str:
    return f"{n:+d}" if n else ""
