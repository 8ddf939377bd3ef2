"""Given commands, the account as the API reads it: the read model's view (folded as the
projector folds) and its history, both from the pure core."""

from __future__ import annotations

from events.commands import Command
from events.ledger import LedgerEvent
from projections.balance import BalanceView, fold
from projections.history import Row, rows
from tests.unit.core.scenario import ACCOUNT
from tests.unit.projections.history import decided


def account_after(*commands: Command) -> tuple[BalanceView, list[LedgerEvent]]:
    view, events = BalanceView(ACCOUNT), []
    for _, recorded in decided(commands):
        for rec in recorded:
            view = fold(view, rec)
            events.append(rec.event)
    return view, events


def page(events: list[LedgerEvent], upto: int, offset: int = 0, limit: int = 10) -> list[Row]:
    """The history as the read model pages it: up to version ``upto``, newest first."""
    table = [row for row in rows(events) if row.version <= upto]
    return table[::-1][offset : offset + limit]
