"""An account's folded state as JSON: ledger snapshots (so long streams load fast), and the
balance read model's stored views, share this one encoding.

A snapshot is derived data: losing one costs a longer replay, never a credit.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from immutables import Map

from events.ledger import Draw
from services.ledger.core import Account, Hold, Lot
from services.ledger.core.state import TopUp

NO_TOP_UP = TopUp()

FORMAT = 4  # 3: only what is open (idempotency and history live in the store's index);
# 4: emptied package lots close, refunded packages are named (automatic top-ups, when an
# account has any, are read with a default: no document before them can have had one)


def dump(state: Account, head: str) -> bytes:
    """A snapshot: the account and the chain hash of its last event."""
    document = {"format": FORMAT, "head": head, **to_document(state)}
    return json.dumps(document, separators=(",", ":")).encode()


def load(data: bytes) -> tuple[Account, str]:
    """The account and chain head back from a snapshot; ``ValueError`` if unreadable (an
    older format is: the account is folded from its events instead)."""
    doc: dict[str, Any] = json.loads(data)
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown snapshot format {doc.get('format')}")
    return from_document(doc), doc["head"]


def to_document(state: Account) -> dict[str, Any]:
    """The account as plain JSON values: its size is that of what is open, not of history."""
    return {
        "opened": state.opened,
        "plan": state.plan,
        "plan_credits": state.plan_credits,
        "billing_interval": state.billing_interval,
        "cycle_start": _time(state.cycle_start),
        "cycle_end": _time(state.cycle_end),
        "subscription_lot_id": state.subscription_lot_id,
        "pending_plan": state.pending_plan,
        "lots": [
            [
                lot.lot_id,
                lot.kind,
                lot.credits,
                lot.remaining,
                _time(lot.expires_at),
                lot.seq,
                _time(lot.starts_at),
            ]
            for lot in state.lots.values()
        ],
        "holds": [
            [
                hold.hold_id,
                hold.tool,
                hold.credits,
                [d.model_dump() for d in hold.draws],
                _time(hold.expires_at),
            ]
            for hold in state.holds.values()
        ],
        "refunded": sorted(state.refunded),
        # Only an account that has used automatic top-ups carries them (most never do).
        **({} if state.top_up == NO_TOP_UP else {"top_up": list(state.top_up)}),
        "version": state.version,
        "as_of": _time(state.as_of),
    }


def from_document(doc: dict[str, Any]) -> Account:
    """The account back from ``to_document``; ``ValueError`` on anything malformed."""
    try:
        lots = Map(
            (r[0], Lot(r[0], r[1], r[2], r[3], _parse(r[4]), r[5], _parse(r[6])))
            for r in doc["lots"]
        )
        holds = Map(
            (r[0], Hold(r[0], r[1], r[2], tuple(Draw(**d) for d in r[3]), _moment(r[4])))
            for r in doc["holds"]
        )
        return Account(
            opened=doc["opened"],
            plan=doc["plan"],
            plan_credits=doc["plan_credits"],
            billing_interval=doc["billing_interval"],
            cycle_start=_parse(doc["cycle_start"]),
            cycle_end=_parse(doc["cycle_end"]),
            subscription_lot_id=doc["subscription_lot_id"],
            pending_plan=doc["pending_plan"],
            lots=lots,
            holds=holds,
            refunded=frozenset(doc["refunded"]),
            top_up=TopUp(*doc.get("top_up", ())),
            version=doc["version"],
            as_of=_parse(doc["as_of"]),
        )
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"malformed account document: {error!r}") from error


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
