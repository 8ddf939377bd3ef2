"""Rebuild, check and lag of the balance read model.

- ``rebuild`` folds every stored event from the start, in memory, and swaps the result in with
  its position in one transaction (the table is dropped and created anew, so a changed schema
  is picked up too). It publishes nothing: the balances topic already carries every version,
  and old alerts are not news. A projector running meanwhile finds its position moved and
  re-reads from the rebuilt one.
- ``check`` names every quarantined account (an event of it could not be folded: its row is
  held at its last good version) and compares every other row with the ledger core's own
  answer: for each account, its events up to the read model's position are replayed by the
  core (``replay`` and ``balance``, not the projector's fold), and both the row's columns and
  its stored view must match. Its finance months must each balance (``opening + bought -
  consumed - refunded - forfeited = closing``, credits and cents), each open at the last one's
  closing, and the latest close at the purchased credits the core's replay holds (spendable
  and held).
- ``lag``: events the ledger has stored that the read model has not folded yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

from projections.balance import BalanceView, load
from projections.batch import Entry, project
from projections.finance import Period
from projections.finance_report import Report, report
from projections.follow import LogReader
from projections.history import Names
from projections.settings import ProjectorSettings
from projections.store import BalanceReadModel, message_of
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, balance, replay
from services.ledger.store import LedgerStore
from services.ledger.upcasting import Recorded


@dataclass(frozen=True, slots=True)
class Difference:
    account_id: str
    field: str
    read_model: Any
    replay: Any

    def __str__(self) -> str:
        read_model, core = self.read_model, self.replay
        return f"{self.account_id} {self.field}: read model {read_model!r}, replay {core!r}"


Progress = Callable[[int, int], None]  # (notifications done, notifications in all)


def rebuild(settings: ProjectorSettings, progress: Progress | None = None) -> tuple[int, int]:
    """Rebuild the read model from every event; returns (accounts, position)."""
    ledger = LedgerStore(settings)
    try:
        return rebuild_into(ledger, BalanceReadModel(ledger), settings, progress)
    finally:
        ledger.close()


def rebuild_into(
    ledger: LedgerStore,
    model: BalanceReadModel,
    settings: ProjectorSettings,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Fold every event into ``model`` anew: the history page by page, then every balance
    row and the position in one transaction. Returns (accounts, position); ``progress`` is
    told (notification reached, notifications in all)."""
    reader = LogReader(ledger, settings.projector_batch_max_events)
    rules, names = settings.alert_rules(), Names.of(load_catalog())
    entries: dict[str, Entry] = {}
    quarantined: dict[str, str] = {}
    position = 0
    end = ledger.recorder.max_notification_id() or 0
    model.recorder.clear_history()
    while (page := reader.read(position)).items:
        projected = project(entries, [r for _, r in page.items], rules, quarantined, names)
        entries.update(projected.entries)
        for account_id in projected.quarantined:
            entries.pop(account_id, None)
        quarantined |= projected.quarantined
        model.recorder.add_history(projected.history, projected.periods, projected.usage)
        position = page.last_id
        if progress is not None:
            progress(position, max(end, position))
    model.replace_all(entries.values(), position, quarantined)
    return len(entries), position


def check(
    settings: ProjectorSettings, progress: Progress | None = None
) -> tuple[int, list[Difference]]:
    """Compare the read model with a fresh replay by the core; returns (position, differences).
    ``progress`` is told (accounts checked, accounts in all)."""
    ledger = LedgerStore(settings)
    try:
        model = BalanceReadModel(ledger)
        position, rows = model.snapshot()
        quarantined = model.quarantined()
        versions = _versions_until(ledger, position)
        by_account = {row["account_id"]: row for row in rows}
        months: dict[str, list[Period]] = {}
        for account_id, period in model.recorder.periods("9999-12"):
            months.setdefault(account_id, []).append(period)
        differences = [
            Difference(account_id, "quarantined", error, "folded")
            for account_id, error in quarantined.items()
        ]
        accounts = sorted((versions.keys() | by_account.keys()) - quarantined.keys())
        for done, account_id in enumerate(accounts, start=1):
            if progress is not None:
                progress(done, len(accounts))
            row, version = by_account.get(account_id), versions.get(account_id)
            if row is None or version is None:
                differences.append(
                    Difference(account_id, "row", row and "present", version and "expected")
                )
                continue
            differences += _compare(ledger, account_id, version, row, months.get(account_id, []))
        return position, differences
    finally:
        ledger.close()


def finance(
    settings: ProjectorSettings,
    first: str,
    last: str,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The finance report from month ``first`` to ``last`` (YYYY-MM), from the stored months."""
    ledger = LedgerStore(settings)
    try:
        months = BalanceReadModel(ledger).recorder.periods(last)
        return report(months, first, last, progress)
    finally:
        ledger.close()


def lag(settings: ProjectorSettings) -> int:
    ledger = LedgerStore(settings)
    try:
        return BalanceReadModel(ledger).lag()
    finally:
        ledger.close()


def _books(account_id: str, months: list[Period], state: Account) -> list[Difference]:
    """Where the account's finance months disagree with themselves or with the core."""
    found = [
        Difference(account_id, f"books.{p.month}", "unbalanced", "balanced")
        for p in months
        if not p.balanced
    ]
    for before, after in pairwise(months):
        if (after.opening, after.opening_cents) != (before.closing, before.closing_cents):
            opened = (after.opening, after.opening_cents)
            closed = (before.closing, before.closing_cents)
            found.append(Difference(account_id, f"books.{after.month}.opening", opened, closed))
    held = sum(d.credits for h in state.holds.values() for d in h.draws if d.kind == "purchased")
    owed = balance(state).purchased + held
    closing = months[-1].closing if months else 0
    if closing != owed:
        found.append(Difference(account_id, "books.closing", closing, owed))
    return found


def _versions_until(ledger: LedgerStore, position: int) -> dict[str, int]:
    """Each account's stream version as of notification ``position``."""
    versions: dict[str, int] = {}
    start = 0
    while start < position:
        page = ledger.recorder.select_notifications(
            start=start, limit=1000, stop=position, inclusive_of_start=False
        )
        if not page:
            break
        for n in page:
            versions[str(n.originator_id)] = n.originator_version
        start = page[-1].id
    return versions


def _compare(
    ledger: LedgerStore,
    account_id: str,
    version: int,
    row: dict[str, Any],
    months: list[Period],
) -> list[Difference]:
    stored = ledger.recorder.select_events(account_id, lte=version)
    try:
        recorded = [cast(Recorded, ledger.mapper.to_domain_event(s)) for s in stored]
        state = replay(r.event for r in recorded)
        expected = BalanceView(account_id, state, recorded[-1].event.occurred_at).message()
    except Exception as error:  # a damaged stream: report it, check the other accounts
        return [Difference(account_id, "replay", "-", f"fails: {type(error).__name__} {error}")]
    try:
        columns = message_of(row)
        kept = load(account_id, row["view"]).message()
    except ValueError as error:
        return [Difference(account_id, "row", str(error), "readable")]
    found = _books(account_id, months, state)
    for source, got in (("columns", columns), ("view", kept)):
        for name, value in got.model_dump().items():
            if value != getattr(expected, name):
                found.append(
                    Difference(account_id, f"{source}.{name}", value, getattr(expected, name))
                )
    return found
