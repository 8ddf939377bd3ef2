"""What the rules need to know of an account's past, looked up instead of carried in the state.

A few answers depend on history, not on what is open: was this ``command_id`` decided already
(idempotency, forever), what did a use take (``RefundUsage``), was it refunded already, how did
a closed hold end, which package did a payment buy, was that payment reversed (or its dispute
won), how much of it was partly refunded so far. The core names what it needs as keys
(``keys_for(command)``); every event says which keys it answers (``keys_of(event)``), and the
store indexes them in the same transaction as the events. The shell looks the keys of a whole
batch up at once and hands them to ``handle`` as a ``Past``; tests and the audit use
``Remembered``, the same index kept in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from events.commands import (
    BuyPackage,
    Command,
    RefundPackage,
    RefundUsage,
    ReleaseHold,
    ReserveCredits,
    RestorePackage,
    SettleHold,
)
from events.ledger import (
    DECISION_EVENTS,
    CreditsReserved,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    PackagePartlyRefunded,
    PackagePurchased,
    PackageRefunded,
    PackageRestored,
    PaymentReversed,
    PurchaseReversed,
    UsageRefunded,
)

SHARED = "*"
"""The account a store-wide key is kept under: no account id can be ``*``."""


class Past(Protocol):
    """The account's indexed history: the latest event that answers ``key``, if any."""

    def recall(self, key: str) -> LedgerEvent | None: ...


_DECIDED = "cmd:"


def decided(command_id: str) -> str:
    """Key of the event a command's decision ended with (its outcome)."""
    return f"{_DECIDED}{command_id}"


def answered_once(key: str) -> bool:
    """Whether ``key`` is a decision's (``decided``): a command is decided once, so its key
    is only ever added, never moved on to a later event."""
    return key.startswith(_DECIDED)


def refund_of(command_id: str) -> str:
    """Key of the refund of a use."""
    return f"refund:{command_id}"


def hold(hold_id: str) -> str:
    """Key of a hold's latest event (reserved, then settled, released or expired)."""
    return f"hold:{hold_id}"


def payment(payment_ref: str) -> str:
    """Key of the package a payment bought."""
    return f"payment:{payment_ref}"


def bought_anywhere(payment_ref: str) -> str:
    """Store-wide key of the package a payment bought, on whichever account: a payment
    reference buys one package in the whole store. Store-wide keys begin with ``*``."""
    return f"*payment:{payment_ref}"


def store_wide(key: str) -> bool:
    """Whether ``key`` names one thing in the whole store rather than in one account."""
    return key.startswith(SHARED)


def reversal(payment_ref: str) -> str:
    """Key of a payment's latest reversal (refund, chargeback) or restoration (dispute won)."""
    return f"reversal:{payment_ref}"


def refunded_part(payment_ref: str) -> str:
    """Key of a payment's latest partial refund after its purchase: how much so far, in all."""
    return f"refunded:{payment_ref}"


def keys_of(event: LedgerEvent) -> tuple[str, ...]:
    """The keys this event answers, for the store's index."""
    decision, key = _KEYS[type(event)]
    own: tuple[str, ...] = () if key is None else (key(event),)
    if isinstance(event, PackagePurchased):
        own = (*own, bought_anywhere(event.payment_ref))
    return (decided(event.command_id), *own) if decision else own


def _keys(kind: type[LedgerEvent]) -> tuple[bool, Callable[[Any], str] | None]:
    """Whether an event of ``kind`` ends a decision, and which other key it answers."""
    key: Callable[[Any], str] | None = None
    if issubclass(kind, CreditsReserved | HoldSettled | HoldReleased | HoldExpired):
        key = lambda e: hold(e.hold_id)  # noqa: E731
    elif issubclass(kind, UsageRefunded):
        key = lambda e: refund_of(e.of_command_id)  # noqa: E731
    elif issubclass(kind, PackagePurchased):
        key = lambda e: payment(e.payment_ref)  # noqa: E731
    elif issubclass(kind, PurchaseReversed):
        key = _purchase_reversed
    elif issubclass(kind, PackagePartlyRefunded):
        key = lambda e: refunded_part(e.payment_ref)  # noqa: E731
    elif issubclass(kind, PackageRefunded | PaymentReversed | PackageRestored):
        key = lambda e: reversal(e.payment_ref)  # noqa: E731
    return issubclass(kind, DECISION_EVENTS), key


def _purchase_reversed(event: PurchaseReversed) -> str:
    """A purchase whose payment was reversed whole is a reversal; partly, a partial refund."""
    if event.refunded_cents is None:
        return reversal(event.payment_ref)
    return refunded_part(event.payment_ref)


# Looked up by type: keys_of runs twice per stored event (the batch's past, the index).
_KEYS = {kind: _keys(kind) for kind in LedgerEvent.__subclasses__()}


def keys_for(command: Command) -> tuple[str, ...]:
    """Every key ``handle`` may look up to decide this command."""
    more = _MORE_KEYS.get(type(command))  # by type: most commands need their own key only
    own = decided(command.command_id)
    return (own,) if more is None else (own, *more(command))


def _payment_keys(command: BuyPackage | RefundPackage | RestorePackage) -> tuple[str, ...]:
    ref = command.payment_ref
    keys = (payment(ref), reversal(ref), refunded_part(ref))
    return (*keys, bought_anywhere(ref)) if isinstance(command, BuyPackage) else keys


_MORE_KEYS: dict[type[Command], Callable[[Any], tuple[str, ...]]] = {
    RefundUsage: lambda c: (decided(c.of_command_id), refund_of(c.of_command_id)),
    ReserveCredits: lambda c: (hold(c.hold_id),),
    SettleHold: lambda c: (hold(c.hold_id),),
    ReleaseHold: lambda c: (hold(c.hold_id),),
    BuyPackage: _payment_keys,
    RefundPackage: _payment_keys,
    RestorePackage: _payment_keys,
}


class Remembered:
    """The index kept in memory: for tests, the audit, and one batch's own decisions."""

    def __init__(self, events: Iterable[LedgerEvent] = ()) -> None:
        self.index: dict[str, LedgerEvent] = {}
        self.remember(events)

    def remember(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            for key in keys_of(event):
                self.index[key] = event

    def recall(self, key: str) -> LedgerEvent | None:
        return self.index.get(key)


class Then:
    """A past with a few newer events in front of it: what time's catch-up recorded just now
    (a hold that expired) answers before the store's index, which cannot know it yet."""

    def __init__(self, newer: Iterable[LedgerEvent], older: Past) -> None:
        self.newer = Remembered(newer)
        self.older = older

    def recall(self, key: str) -> LedgerEvent | None:
        found = self.newer.recall(key)
        return found if found is not None else self.older.recall(key)


class _Nothing:
    def recall(self, key: str) -> LedgerEvent | None:
        return None


NOTHING: Past = _Nothing()
"""The past of an account with no history."""
