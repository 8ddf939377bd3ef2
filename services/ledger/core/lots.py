"""Drawdown: which lots pay for a use, and where credits given back go."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from events.ledger import Draw, Forfeit
from events.refusals import InsufficientCredits
from services.ledger.core.state import Account, Lot


def spendable(state: Account, now: datetime) -> list[Lot]:
    """Lots that can pay at ``now``, in drawdown order: soonest-expiring first (so the current
    cycle's subscription credits), then lots that never expire, oldest first."""
    lots = [lot for lot in state.lots.values() if lot.remaining and _alive(lot, now)]
    return sorted(lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or now, lot.seq))


def take(state: Account, credits: int, now: datetime) -> tuple[Draw, ...]:
    """The draws that pay ``credits``, one use split across lots where needed; all or nothing."""
    lots = spendable(state, now)
    available = sum(lot.remaining for lot in lots)
    if credits > available:
        by_kind = {"subscription": 0, "purchased": 0, "granted": 0}
        for lot in lots:
            by_kind[lot.kind] += lot.remaining
        raise InsufficientCredits(required=credits, available=available, **by_kind)
    draws = []
    for lot in lots:
        if not credits:
            break
        part = min(lot.remaining, credits)
        draws.append(Draw(lot_id=lot.lot_id, kind=lot.kind, credits=part))
        credits -= part
    return tuple(draws)


def give_back(
    state: Account, draws: Iterable[Draw], now: datetime
) -> tuple[tuple[Draw, ...], tuple[Forfeit, ...]]:
    """Credits going back to the lots they came from. A lot that has expired or was removed
    cannot take them: they are forfeited instead, so nothing is ever revived."""
    returned: list[Draw] = []
    forfeited: list[Forfeit] = []
    for draw in draws:
        lot = state.lots[draw.lot_id]
        if _alive(lot, now):
            returned.append(draw)
        else:
            reason = "removed" if lot.status == "removed" else "expired"
            forfeited.append(Forfeit(**draw.model_dump(), reason=reason))
    return tuple(returned), tuple(forfeited)


def _alive(lot: Lot, now: datetime) -> bool:
    return lot.status == "open" and (lot.expires_at is None or now < lot.expires_at)
