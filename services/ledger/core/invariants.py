"""What the ledger relies on after every decision; a failure here is a bug, never a refusal."""

from __future__ import annotations

from services.ledger.core.state import Account


def check_invariants(state: Account) -> None:
    for lot in state.lots.values():
        assert 0 <= lot.remaining <= lot.credits, f"lot {lot.lot_id} out of bounds: {lot}"
    for hold in state.holds.values():
        assert hold.credits == sum(draw.credits for draw in hold.draws), f"hold {hold.hold_id}"
