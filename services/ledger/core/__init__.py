"""The pure decision core: every credit rule, no I/O, no clock, no environment.

``decide(command, state, catalog) -> events`` holds the rules and raises typed refusals;
``evolve(state, event) -> state`` folds a fact into the account and holds no rule;
``handle`` puts them together with idempotency and refusal recording.
"""

from services.ledger.core.catalog import Catalog, PackageOffer, PlanTerms, ToolPrice
from services.ledger.core.decide import Decision, decide, handle
from services.ledger.core.state import Account, Balance, Hold, Lot, balance, evolve, replay

__all__ = [
    "Account",
    "Balance",
    "Catalog",
    "Decision",
    "Hold",
    "Lot",
    "PackageOffer",
    "PlanTerms",
    "ToolPrice",
    "balance",
    "decide",
    "evolve",
    "handle",
    "replay",
]
