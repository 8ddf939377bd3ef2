"""A batch of the ledger's log folded into read-model entries and messages: pure, no I/O.

Alerts are evaluated at the end of each command's events (a command's events are contiguous
in its account's stream and share its ``command_id``), so what the balance passes through
inside one decision raises nothing, and the same log gives the same alerts however it is cut
into batches: live, after a restart, or in a rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from events.balances import BalanceAlert, BalanceUpdated
from projections import finance, history
from projections.alerts import AlertRules, AlertState, evaluate
from projections.balance import BalanceView, RecordedEvent, fold
from services.ledger.store import gc_paused

T = TypeVar("T")


class Entry(NamedTuple):
    """One row of the read model: an account's view, what its alerts have fired and its
    finance books. A named tuple: the fold makes one per event, and a tuple is built several
    times faster than a frozen dataclass (BENCHMARKS.md, issue 26)."""

    view: BalanceView
    alerts: AlertState = AlertState()  # frozen: one shared default
    books: finance.Books = finance.Books()


@dataclass
class Projected:
    """What a batch changed: the entries to store, the updates and alerts to publish, and the
    accounts newly quarantined (an event of theirs could not be folded) with the reason."""

    entries: dict[str, Entry] = field(default_factory=dict)
    alerts: list[BalanceAlert] = field(default_factory=list)
    history: list[history.Line] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)
    periods: dict[tuple[str, str], finance.Period] = field(default_factory=dict)
    usage: dict[tuple[str, str], finance.Today] = field(default_factory=dict)

    @property
    def updates(self) -> list[BalanceUpdated]:
        """The latest balance of every changed account that has one: on a compacted topic only
        the latest per key matters, so a batch publishes one update per account."""
        return self.published(self.messages())

    def messages(self) -> dict[str, BalanceUpdated]:
        """Every changed account's balance message, built once: it is both published and
        stored (the row's columns), and building it is most of a row's cost."""
        return {account_id: e.view.message() for account_id, e in self.entries.items()}

    def published(self, messages: Mapping[str, BalanceUpdated]) -> list[BalanceUpdated]:
        """Of ``messages``, those to publish: accounts that were opened."""
        return [messages[a] for a, e in self.entries.items() if e.view.account.opened]

    def quarantine(self, account_id: str, version: int, error: Exception) -> None:
        """Stop folding ``account_id``: forget what this batch did to it."""
        self.quarantined[account_id] = f"version {version}: {type(error).__name__}: {error}"
        self.entries.pop(account_id, None)
        self.alerts = [a for a in self.alerts if a.account_id != account_id]
        self.history = [line for line in self.history if line[1] != account_id]
        self.periods = {k: p for k, p in self.periods.items() if k[0] != account_id}
        self.usage = {k: u for k, u in self.usage.items() if k[0] != account_id}

    def booked(self, account_id: str, books: finance.Books, before: finance.Books) -> None:
        """Keep a month or a day of the account's books once it is over: the books' latest
        month and day are in its row (``Entry.books``, in the view), and the finance tables
        hold only those before them, each written once, when the account's next event (for
        a day, its next use) comes in a later one. Writing the open month and day with every
        page cost two rows a use (BENCHMARKS.md, issue 26)."""
        assert books.period is not None, "books that folded an event have a period"
        closed = before.period
        if closed is not None and closed.month != books.period.month:
            self.periods[account_id, closed.month] = closed
        if before.day and before.day != books.day:
            self.usage[account_id, before.day] = before.today


def project(
    entries: Mapping[str, Entry],
    batch: Sequence[RecordedEvent],
    rules: AlertRules,
    quarantined: Collection[str] = (),
    names: history.Names | None = None,
) -> Projected:
    """Fold ``batch`` (whole commands, in log order) into ``entries`` (the accounts' rows as
    stored; missing ones are new accounts). The history says what each event did with the
    catalog's ``names``, as the account's page shows it.

    An event that cannot be folded quarantines its account: the account's row stays at its
    last good version, nothing more of it is published, and every other account goes on.
    Events of accounts in ``quarantined`` are passed over.
    """
    with gc_paused():  # what a fold makes is acyclic: reference counting frees it
        return _project(entries, batch, rules, quarantined, names)


def _project(
    entries: Mapping[str, Entry],
    batch: Sequence[RecordedEvent],
    rules: AlertRules,
    quarantined: Collection[str],
    names: history.Names | None,
) -> Projected:
    ends = _command_ends(batch)
    out = Projected()
    for recorded, ends_command in zip(batch, ends, strict=True):
        account_id = recorded.originator_id
        if account_id in quarantined or account_id in out.quarantined:
            continue
        entry = out.entries.get(account_id) or entries.get(account_id)
        entry = entry or Entry(BalanceView(account_id))
        try:
            view = fold(entry.view, recorded)
            if view is entry.view:
                continue  # already folded: a repeat changes nothing
            alerts = entry.alerts
            if ends_command:
                alerts, fired = evaluate(view, alerts, rules)
                out.alerts += fired
            before, after = entry.view.figures, view.figures
            line = history.line(
                recorded.position, account_id, recorded.event, view.version, before, after, names
            )
            books = finance.fold(entry.books, recorded.event)
        except Exception as error:  # a fold that raises must not stop every other account
            out.quarantine(account_id, recorded.originator_version, error)
            continue
        out.history.append(line)
        out.booked(account_id, books, entry.books)
        out.entries[account_id] = tuple.__new__(Entry, (view, alerts, books))  # no __new__
    return out


def quiet_alerts(view: BalanceView, rules: AlertRules) -> AlertState:
    """An alert state for a view whose history is unknown: whatever holds now counts as
    already said (so nothing fires twice), everything else is armed."""
    return evaluate(view, AlertState(low_balance=True, depleted=True), rules)[0]


def whole_commands(
    page: Sequence[T], full: bool, key: Callable[[T], tuple[str, str]]
) -> Sequence[T]:
    """The part of a page of the log that holds whole commands only.

    A page that is not full is everything committed after its start, and the ledger commits
    whole batches of commands, so it ends where a command ends. A full page may stop inside a
    command: its last command is left for the next page (unless it is all the page holds).
    """
    if not full or not page:
        return page
    last = key(page[-1])
    cut = len(page)
    while cut and key(page[cut - 1]) == last:
        cut -= 1
    return page[:cut] if cut else page


def _command_ends(batch: Sequence[RecordedEvent]) -> list[bool]:
    """For each event: is it the last of its command in this batch?"""
    ends = [False] * len(batch)
    following: dict[str, str] = {}
    for n in range(len(batch) - 1, -1, -1):
        recorded = batch[n]
        command_id = recorded.event.command_id
        ends[n] = following.get(recorded.originator_id) != command_id
        following[recorded.originator_id] = command_id
    return ends
