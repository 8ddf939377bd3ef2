"""What the API answers with, assembled from the read model, the ledger's stream and the
catalog. Pure: data in, response models out; the handlers only fetch and hand over.

The sidebar's balance is ``BalanceUpdated`` itself, the message of the balances topic, so a
``GET`` and a streamed update have one shape and the page renders both with one function.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.outcomes import BalanceFigures
from projections.balance import BalanceView
from services.api.models import AccountDetails, HistoryPage, HoldOut, LotOut, Plan
from services.audit.history import Row
from services.ledger.core import Catalog
from services.ledger.core.lots import spendable


def history_page(account_id: str, table: Sequence[Row], offset: int, limit: int) -> HistoryPage:
    newest_first = table[::-1][offset : offset + limit]
    return HistoryPage(
        account_id=account_id,
        total=len(table),
        offset=offset,
        limit=limit,
        entries=list(newest_first),
    )


def details(
    view: BalanceView, table: Sequence[Row], catalog: Catalog, recent: int
) -> AccountDetails:
    """The account as the read model has it, with the history up to the same version (the
    ledger's stream may already be ahead of the read model)."""
    account, figures = view.account, BalanceFigures.of(view.figures)
    upto = [row for row in table if row.version <= view.version]
    # Drawdown order as of the last event: the figures are as recorded, so are the lots.
    lots = spendable(account, view.updated_at) if view.updated_at else []
    return AccountDetails(
        account_id=view.account_id,
        version=view.version,
        updated_at=view.updated_at,
        balance=figures,
        plan=_plan(view, catalog),
        renewal_date=account.cycle_end,
        subscription_expires_at=view.subscription_expires_at,
        lots=[
            LotOut(
                lot_id=lot.lot_id,
                kind=lot.kind,
                credits=lot.credits,
                remaining=lot.remaining,
                expires_at=lot.expires_at,
            )
            for lot in lots
        ],
        holds=[
            HoldOut(hold_id=h.hold_id, tool=h.tool, credits=h.credits, expires_at=h.expires_at)
            for h in sorted(account.holds.values(), key=lambda h: h.expires_at)
            if h.status == "open"
        ],
        recent=history_page(view.account_id, upto, 0, recent).entries,
    )


def _plan(view: BalanceView, catalog: Catalog) -> Plan | None:
    account = view.account
    if account.plan is None:
        return None
    terms = catalog.plans.get(account.plan)
    return Plan(
        plan=account.plan,
        name=terms.name if terms else account.plan,
        credits_per_cycle=account.plan_credits,
        billing_interval=account.billing_interval,
        pending_plan=account.pending_plan,
    )
