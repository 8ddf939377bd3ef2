"""Finance's report, for billing's token: what purchased credits are worth, and breakage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from projections.finance_output import MONTH
from services.api import models, views
from services.api.deps import Authenticated, PortsDep
from services.api.errors import documented, error

router = APIRouter(tags=["finance"])


@router.get("/finance/report", responses=documented(401, 403, 422))
async def finance_report(
    who: Authenticated,
    ports: PortsDep,
    first: Annotated[
        str,
        Query(alias="from", pattern=f"^{MONTH.pattern}$", description="first month, YYYY-MM (UTC)"),
    ],
    last: Annotated[
        str, Query(alias="to", pattern=f"^{MONTH.pattern}$", description="last month, YYYY-MM")
    ],
) -> models.FinanceReport:
    """Per account and in total, from the read model: purchased credits and their value in
    integer cents (opening + bought - consumed - refunded - forfeited = closing; revenue at the
    price each lot was bought at), subscription credits by plan and granted credits (granted,
    used, expired). Billing's token only."""
    if who.scope != "billing":
        raise error(403, "forbidden", "only billing's token may read the finance report")
    if first > last:
        raise error(422, "invalid_range", f"from {first} is after to {last}")
    return views.finance_report(await ports.reads.finance(first, last))
