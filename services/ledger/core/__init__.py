"""The pure decision core: every credit rule, no I/O, no clock, no environment.

``decide(command, state, catalog) -> events`` holds the rules and raises typed refusals;
``evolve(state, event) -> state`` folds a fact into the account and holds no rule;
``handle`` puts them together with idempotency and refusal recording; ``catch_up(state, now)``
is what time alone records; ``Past`` is what a decision may look up of history (``past.py``).
"""

from services.ledger.core.catalog import Catalog, PackageOffer, PlanTerms, ToolPrice
from services.ledger.core.decide import Arrival, Decision, answered, catch_up, decide, handle
from services.ledger.core.lots import ends, spendable
from services.ledger.core.past import NOTHING, Past, Remembered, keys_for, keys_of
from services.ledger.core.state import (
    Account,
    Balance,
    Hold,
    Lot,
    balance,
    credits_by_kind,
    evolve,
    replay,
    started,
)

__all__ = [
    "NOTHING",
    "Account",
    "Arrival",
    "Balance",
    "Catalog",
    "Decision",
    "Hold",
    "Lot",
    "PackageOffer",
    "Past",
    "PlanTerms",
    "Remembered",
    "ToolPrice",
    "answered",
    "balance",
    "catch_up",
    "credits_by_kind",
    "decide",
    "ends",
    "evolve",
    "handle",
    "keys_for",
    "keys_of",
    "replay",
    "spendable",
    "started",
]
