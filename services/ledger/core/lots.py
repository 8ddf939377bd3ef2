"""Drawdown: which lots pay for a use, where credits given back go, and when a lot ends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from operator import itemgetter

from events.ledger import Draw, Forfeit
from events.refusals import InsufficientCredits
from events.trusted import made, trusted
from services.ledger.core.state import Account, Lot, started


def ends(state: Account) -> dict[str, datetime | None]:
    """When each lot stops being spendable: its ``expires_at`` (None: never), and for a cycle's
    lot the start of the next cycle if that comes first, so that no two cycles' allowances are
    ever spendable at once (an early renewal's credits wait for their ``cycle_start``, and
    the old cycle's credits last until then)."""
    cut = cut_short(state)
    return {lot_id: cut.get(lot_id, lot.expires_at) for lot_id, lot in state.lots.items()}


def cut_short(state: Account) -> dict[str, datetime]:
    """The cycles' lots that end before their ``expires_at``, at the next cycle's start: none
    while the account holds one cycle's lot (the common case)."""
    cycles = [lot for lot in state.lots.values() if lot.kind == "subscription" and lot.starts_at]
    if len(cycles) < 2:
        return {}
    cycles.sort(key=lambda lot: (lot.starts_at, lot.seq))
    cut: dict[str, datetime] = {}
    for lot, successor in pairwise(cycles):
        own, next_start = lot.expires_at, successor.starts_at
        if next_start is not None and (own is None or next_start < own):
            cut[lot.lot_id] = next_start
    return cut


def spendable(state: Account, now: datetime) -> list[Lot]:
    """Lots that can pay at ``now``, in drawdown order: soonest-ending first (so the current
    cycle's subscription credits), then lots that never expire, oldest first."""
    cut = cut_short(state)
    open_lots: list[tuple[bool, datetime, int, Lot]] = []  # (never ends, end, seq, lot)
    for lot in state.lots.values():
        if not lot.remaining:
            continue
        end = cut.get(lot.lot_id, lot.expires_at) if cut else lot.expires_at
        if alive(lot, end, now):
            open_lots.append((end is None, end or now, lot.seq, lot))
    if len(open_lots) > 1:
        open_lots.sort(key=_DRAWDOWN_ORDER)  # stable: lots alike keep the state's order
    return [entry[3] for entry in open_lots]


_DRAWDOWN_ORDER = itemgetter(0, 1, 2)


def take(state: Account, credits: int, now: datetime) -> tuple[Draw, ...]:
    """The draws that pay ``credits``, one use split across lots where needed; all or nothing."""
    lots = spendable(state, now)
    available = 0
    for lot in lots:
        available += lot.remaining
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
        age = lot.seq if lot.kind == "purchased" else None  # only a package's lot reopens
        # Trusted: a lot's id and kind, and a positive part of what it holds.
        draws.append(
            trusted(Draw, {"lot_id": lot.lot_id, "kind": lot.kind, "credits": part, "lot_seq": age})
        )
        credits -= part
    return tuple(draws)


def give_back(
    state: Account, draws: Iterable[Draw], now: datetime
) -> tuple[tuple[Draw, ...], tuple[Forfeit, ...]]:
    """Credits going back to the lots they came from. A lot that has ended (expired, been
    followed by the next cycle, or been removed with its refunded package) cannot take them:
    they are forfeited instead, so nothing rolls over. A package's lot closes when emptied but
    never ends: it takes its credits back."""
    end = ends(state)
    returned: list[Draw] = []
    forfeited: list[Forfeit] = []
    for draw in draws:
        lot = state.lots.get(draw.lot_id)  # a lot that closed has left the state
        if lot is not None and alive(lot, end[lot.lot_id], now):
            returned.append(draw)
        elif draw.kind == "purchased" and draw.lot_id not in state.refunded:
            returned.append(draw)  # purchased credits never expire: an emptied lot reopens
        else:
            reason = "removed" if draw.kind == "purchased" else "expired"
            forfeited.append(made(Forfeit, **draw.model_dump(), reason=reason))
    return tuple(returned), tuple(forfeited)


def alive(lot: Lot, end: datetime | None, now: datetime) -> bool:
    """Whether the (open) lot can pay, or take credits back, at ``now``."""
    return (end is None or now < end) and started(lot, now)
