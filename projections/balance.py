"""The balance read model's fold: ledger events in, one small immutable view per account out,
folded with the core's own ``evolve`` so the balance agrees with the ledger to the credit
(README, Design: the projector's fold)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Protocol, final

import orjson
from pydantic import BaseModel

from events.balances import BalanceUpdated
from events.ledger import LedgerEvent
from events.trusted import trusted
from projections.errors import StreamGap
from services.ledger import snapshots
from services.ledger.core import Account, Balance, Lot, balance, ends, evolve

FORMAT = 5  # 4: the ledger's account encoding, format 3 (services/ledger/snapshots.py); 5: books


class RecordedEvent(Protocol):
    """A ledger event at its place in an account's stream (the store's ``Recorded``)."""

    @property
    def originator_id(self) -> str: ...
    @property
    def originator_version(self) -> int: ...
    @property
    def event(self) -> LedgerEvent: ...
    @property
    def position(self) -> int: ...  # in the ledger's log (0: not read from it)


@final
class BalanceView:
    """One account's balance as of stream ``version``, and the lean account it is read from.
    Never changed once made: a fold makes a new one.

    A plain class, not a frozen dataclass: the fold makes one per event, and compiled
    (``services.native``) its ``__init__`` is C, where a frozen dataclass's is generated
    Python setting each field through ``object.__setattr__`` (BENCHMARKS.md, issue 26)."""

    __slots__ = ("_figures", "account", "account_id", "updated_at")

    def __init__(
        self, account_id: str, account: Account | None = None, updated_at: datetime | None = None
    ) -> None:
        self.account_id: Final = account_id
        self.account: Final = Account() if account is None else account
        self.updated_at: Final = updated_at
        # The figures, worked out on first use: a page asks for them up to four times per
        # event (the history row before and after, the alerts, the message).
        self._figures: Balance | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BalanceView):
            return NotImplemented
        return (self.account_id, self.account, self.updated_at) == (
            other.account_id,
            other.account,
            other.updated_at,
        )

    def __hash__(self) -> int:
        return hash((self.account_id, self.account, self.updated_at))

    def __repr__(self) -> str:
        return (
            f"BalanceView(account_id={self.account_id!r}, account={self.account!r}, "
            f"updated_at={self.updated_at!r})"
        )

    @property
    def version(self) -> int:
        return self.account.version

    @property
    def figures(self) -> Balance:
        if self._figures is None:
            self._figures = balance(self.account)  # a memo, not a change
        return self._figures

    @property
    def subscription_expires_at(self) -> datetime | None:
        """When the spendable subscription credits expire (None if there are none)."""
        # One pass over the lots with plain locals (``started`` inlined): this runs for every
        # changed account of every page. A cycle's lot ends early only at a later cycle's
        # start, so with one cycle open its end is its own; with more, ``ends`` sorts them.
        account = self.account
        now = account.as_of
        cycles = 0
        spendable: list[Lot] = []
        for lot in account.lots.values():
            if lot.kind != "subscription":
                continue
            cycles += 1
            starts_at = lot.starts_at
            if lot.remaining and (starts_at is None or (now is not None and starts_at <= now)):
                spendable.append(lot)
        if not spendable:
            return None
        if cycles == 1:
            return spendable[0].expires_at
        end = ends(account)
        return min((at for lot in spendable if (at := end[lot.lot_id]) is not None), default=None)

    def message(self) -> BalanceUpdated:
        """The view as the balances topic carries it (built as trusted: every value is the
        fold's own, typed, and this runs for every changed account of every page)."""
        assert self.updated_at is not None, "a view is published only after an event"
        figures, account = self.figures, self.account
        return trusted(
            BalanceUpdated,
            {
                "type": "BalanceUpdated",
                "account_id": self.account_id,
                "version": self.version,
                "subscription": figures.subscription,
                "purchased": figures.purchased,
                "granted": figures.granted,
                "held": figures.held,
                "total": figures.total,
                "plan": account.plan,
                "plan_credits": account.plan_credits,
                "billing_interval": account.billing_interval,
                "pending_plan": account.pending_plan,
                "cycle_end": account.cycle_end,
                "subscription_expires_at": self.subscription_expires_at,
                "updated_at": self.updated_at,
            },
        )


def fold(view: BalanceView, recorded: RecordedEvent) -> BalanceView:
    """The view after one more event of its account's stream. An event the view has already
    folded (a version at or below its own) changes nothing; a skipped version raises."""
    assert recorded.originator_id == view.account_id, (recorded.originator_id, view.account_id)
    if recorded.originator_version <= view.version:
        return view
    if recorded.originator_version != view.version + 1:
        raise StreamGap(
            f"{view.account_id}: got version {recorded.originator_version} after {view.version}"
        )
    account = evolve(view.account, recorded.event)
    return BalanceView(view.account_id, account, recorded.event.occurred_at)


def dump(view: BalanceView, books: dict[str, Any] | None = None) -> str:
    """The view as JSON, for the read model's row (the ledger's own account encoding,
    ``snapshots.to_document``), with the account's finance books beside it
    (``projections.finance.dump``).

    This runs for every changed account of every page, so the document is handed to orjson
    with its times as the state holds them (orjson writes them ISO 8601, as ``to_document``
    does) and its lots as arrays: orjson writes no named tuple itself, and handing one back
    to Python (``_plain``) costs more than the copy (BENCHMARKS.md, issue 26). A unit test
    holds the two encodings equal."""
    state = view.account
    document: dict[str, Any] = {
        "format": FORMAT,
        "updated_at": view.updated_at,
        "books": books,
        "opened": state.opened,
        "plan": state.plan,
        "plan_credits": state.plan_credits,
        "billing_interval": state.billing_interval,
        "cycle_start": state.cycle_start,
        "cycle_end": state.cycle_end,
        "subscription_lot_id": state.subscription_lot_id,
        "pending_plan": state.pending_plan,
        "lots": [list(lot) for lot in state.lots.values()],
        "holds": list(state.holds.values()),
        "refunded": sorted(state.refunded),
    }
    if state.top_up != snapshots.NO_TOP_UP:
        document["top_up"] = state.top_up
    document["version"] = state.version
    document["as_of"] = state.as_of
    return orjson.dumps(document, default=_plain, option=orjson.OPT_PASSTHROUGH_SUBCLASS).decode()


def _plain(value: object) -> object:
    """What orjson cannot write itself, as it is written: a named tuple (a lot, a hold, a
    finance period) as an array, a read-only mapping as an object, a draw as its fields."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, BaseModel):
        return value.model_dump()
    raise TypeError(f"{type(value).__name__} is not part of a view")


def load(account_id: str, text: str) -> BalanceView:
    """The view back from its JSON; raises ``ValueError`` on anything unreadable."""
    return load_with_books(account_id, text)[0]


def load_with_books(account_id: str, text: str) -> tuple[BalanceView, dict[str, Any] | None]:
    """The view and the books kept beside it; raises ``ValueError`` on anything unreadable."""
    try:
        doc = orjson.loads(text)
        if doc["format"] != FORMAT:
            raise ValueError(f"unknown view format {doc['format']}")
        updated_at, books = doc["updated_at"], doc["books"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"unreadable view of {account_id}: {error!r}") from error
    account = snapshots.from_document(doc)
    moment = None if updated_at is None else datetime.fromisoformat(updated_at)
    return BalanceView(account_id, account, moment), books
