"""``credits payments``: the payments the provider took against what the ledger did.

credits payments reconcile --since 2026-11-01 [--provider test|stripe] [--format table|csv|json]

Exit status 1 when any row is a problem (``services.audit.reconciliation.Verdict``), so a
cron alerts; 0 when the provider and the ledger agree; 2 when the provider cannot be read.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import httpx
import stripe
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from projections.settings import ProjectorSettings
from services import progress
from services.api.app import stripe_provider
from services.api.settings import ApiSettings
from services.audit import payment_sources as sources
from services.audit.reconciliation import ProviderPayment, Row, problems, reconcile
from services.cli.audit import Store
from services.display_text import csv_cell, printable
from services.ledger.store import LedgerStore

payments = typer.Typer(help="Payments: the provider's record against the ledger.")
COLUMNS = tuple(field.name for field in dataclasses.fields(Row))


class Provider(StrEnum):
    test = "test"
    stripe = "stripe"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _day(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as bad:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from bad


@payments.command("reconcile")
def reconcile_payments(
    since: Annotated[datetime, typer.Option(parser=_day, help="first day, YYYY-MM-DD (UTC)")],
    provider: Annotated[
        Provider | None, typer.Option(help="default: KALEMA_PAYMENTS_PROVIDER")
    ] = None,
    format: Annotated[Format, typer.Option(help="how to print it")] = Format.table,
    store: Store = None,
) -> None:
    """Every payment the provider reports since the date, with what the ledger did with it,
    then the ledger's purchases since the date that the provider does not know. Exits 1 when
    anything paid is not credited or credited without payment."""
    settings = ApiSettings()
    which = provider or Provider(settings.payments_provider)
    try:
        taken = asyncio.run(_provider_payments(settings, which, since))
    except (httpx.HTTPError, stripe.StripeError) as error:
        typer.echo(f"cannot read the {which} provider's payments: {error!r}", err=True)
        raise typer.Exit(2) from error
    knobs = {} if store is None else {"event_store": store}
    ledger = LedgerStore(ProjectorSettings(**knobs), build_index=False)  # read as it is
    try:
        facts = sources.ledger_facts(ledger, taken)
        with progress.bar("reading the ledger's purchases", after_s=1) as step:
            bought = sources.ledger_purchases(ledger, since, step)
    finally:
        ledger.close()
    rows = reconcile(taken, facts, bought, int(since.timestamp()))
    if format is Format.table:
        _print_table(rows)
    else:
        typer.echo(render(rows, format.value), nl=False)
    raise typer.Exit(1 if problems(rows) else 0)


async def _provider_payments(
    settings: ApiSettings, which: Provider, since: datetime
) -> list[ProviderPayment]:
    if which is Provider.stripe:
        return await sources.stripe_payments(stripe_provider(settings), since)
    return await sources.test_provider_payments(settings.url(), since)


def render(rows: list[Row], how: str) -> str:
    """The rows as JSON or as CSV (cells a spreadsheet shows as text)."""
    records = [_record(row) for row in rows]
    if how == "json":
        return json.dumps(records, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in record.items()} for record in records)
    return out.getvalue()


def _record(row: Row) -> dict[str, object]:
    return dataclasses.asdict(row) | {"verdict": row.verdict.value}


def _print_table(rows: list[Row]) -> None:
    """A rich table, problems in red, cells plain ``Text`` (never markup, control characters
    escaped); wide enough for payment references when not on a terminal."""
    view = Table(title="payments: provider against ledger")
    for column in COLUMNS:
        view.add_column(column.replace("_", " "), justify="right" if "cents" in column else "left")
    for row in rows:
        style = "bold red" if row.verdict.problem else ""
        record = _record(row)
        view.add_row(*(Text(printable(str(record[c])), style=style) for c in COLUMNS))
    console = Console()
    if not console.is_terminal:
        console = Console(width=220)
    console.print(view)
    count = problems(rows)
    typer.echo(f"{count} problem(s) in {len(rows)} rows" if count else f"{len(rows)} rows agree")
