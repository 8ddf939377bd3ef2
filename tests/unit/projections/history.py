"""Given/when/then for the projection: commands are decided by the core, their events folded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from events.commands import Command
from events.ledger import LedgerEvent
from projections.alerts import AlertRules
from projections.batch import Entry, project
from services.ledger.core import Account, Decision, handle
from services.ledger.core.past import Remembered
from tests.unit.core.scenario import ACCOUNT, CATALOG


class Rec(NamedTuple):
    """An event at its place in the stream, as the store hands it out."""

    originator_id: str
    originator_version: int
    event: LedgerEvent
    position: int = 0  # in the ledger's log: these are not read from one


def decided(commands: Iterable[Command]) -> list[tuple[Decision, list[Rec]]]:
    """Each command's decision and its events as recorded, in order."""
    state, out, past = Account(), [], Remembered()
    for command in commands:
        decision = handle(command, state, CATALOG, past)
        past.remember(decision.events)
        recorded = [
            Rec(ACCOUNT, version, event)
            for version, event in enumerate(decision.events, start=state.version + 1)
        ]
        out.append((decision, recorded))
        state = decision.state
    return out


def alerts_per_command(rules: AlertRules, *commands: Command) -> list[list[str]]:
    """The kinds of alert each command raised, projected one command per batch."""
    entries: dict[str, Entry] = {}
    said = []
    for _, recorded in decided(commands):
        projected = project(entries, recorded, rules)
        entries.update(projected.entries)
        said.append([alert.kind for alert in projected.alerts])
    return said
