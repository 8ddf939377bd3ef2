"""What the API answers with, assembled from the read model, the ledger's stream and the
catalog. Pure: data in, response models out; the handlers only fetch and hand over.

The sidebar's balance is ``BalanceUpdated`` itself, the message of the balances topic, so a
``GET`` and a streamed update have one shape and the page renders both with one function.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal

from events.outcomes import BalanceFigures
from projections.balance import BalanceView
from projections.finance_output import document
from projections.finance_report import Report
from projections.forecast import pace
from projections.history import Row
from services.api import forecast_text, usage_chart
from services.api.catalog import tools as catalog_tools
from services.api.models import (
    AccountDetails,
    AutoTopUpOut,
    DayUsage,
    FinanceReport,
    Forecast,
    HistoryPage,
    HoldOut,
    LotOut,
    Plan,
    ToolUsage,
    UsageReport,
)
from services.api.ports import UsageRow
from services.ledger.core import Catalog, spendable


def history_page(view: BalanceView, page: Sequence[Row], offset: int, limit: int) -> HistoryPage:
    """A page of the history (newest first) of the account ``view`` is the balance of: the
    history holds one entry per event, so there are as many as the view's version."""
    return HistoryPage(
        account_id=view.account_id,
        total=view.version,
        offset=offset,
        limit=limit,
        entries=list(page),
    )


def details(
    view: BalanceView,
    recent: Sequence[Row],
    catalog: Catalog,
    used: Sequence[UsageRow] = (),
    today: date | None = None,
) -> AccountDetails:
    """The account as the read model has it, with its most recent history entries (newest
    first, read up to the view's version, so never ahead of the balance they explain), and
    the forecast at the pace of ``used`` (the last days' usage) as of ``today``."""
    account, figures = view.account, BalanceFigures.of(view.figures)
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
        ],
        auto_top_up=_auto_top_up(view),
        recent=list(recent),
        forecast=None if today is None else _forecast(view, used, today),
    )


def _auto_top_up(view: BalanceView) -> AutoTopUpOut:
    top_up = view.account.top_up
    return AutoTopUpOut(
        on=top_up.on,
        threshold_credits=top_up.threshold_credits,
        package=top_up.package,
        max_per_month=top_up.max_per_month if top_up.on else None,
        card_last4=top_up.card_last4,
        card_declined=top_up.card_declined,
        in_flight=top_up.in_flight is not None,
        failed_attempts=top_up.failures,
        top_ups_this_month=top_up.requested,
        month=top_up.month,
    )


def _forecast(view: BalanceView, used: Sequence[UsageRow], today: date) -> Forecast:
    by_day: dict[date, int] = {}
    for day, _, _, credits in used:
        by_day[date.fromisoformat(day)] = by_day.get(date.fromisoformat(day), 0) + credits
    figures, cycle_end = view.figures, view.account.cycle_end
    got = pace(by_day, today, figures.subscription, figures.total, cycle_end and cycle_end.date())
    summary = forecast_text.summary(
        got, figures.subscription, figures.purchased, figures.granted, today
    )
    return Forecast(
        window_days=got.window_days,
        used_credits=got.used_credits,
        credits_per_day=got.credits_per_day,
        subscription_runs_out_on=got.subscription_runs_out_on,
        all_credits_run_out_on=got.all_credits_run_out_on,
        renews_on=got.renews_on,
        summary=summary,
    )


def usage_report(
    account_id: str,
    rows: Sequence[UsageRow],
    first: date,
    last: date,
    by: Literal["tool", "day"],
    catalog: Catalog,
) -> UsageReport:
    """The account's usage from ``first`` to ``last`` by tool (most credits first) or by day
    (every day of the range, quiet ones at 0), tools named as the catalog names them."""
    tools: dict[str, tuple[int, int]] = {}
    days: dict[str, dict[str, int]] = {}
    for day, tool, uses, credits in rows:
        total = tools.get(tool, (0, 0))
        tools[tool] = (total[0] + uses, total[1] + credits)
        days.setdefault(day, {})[tool] = credits
    named = [
        ToolUsage(tool=t, name=_tool_name(t, catalog), uses=u, credits=c)
        for t, (u, c) in sorted(tools.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]
    every_day = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    daily = [
        DayUsage(
            day=d,
            credits=sum(days.get(d.isoformat(), {}).values()),
            tools=days.get(d.isoformat(), {}),
        )
        for d in every_day
    ]
    return UsageReport(
        account_id=account_id,
        first=first,
        last=last,
        by=by,
        tools=named if by == "tool" else [],
        days=daily if by == "day" else [],
    )


def usage_svg(
    account_id: str,
    rows: Sequence[UsageRow],
    first: date,
    last: date,
    catalog: Catalog,
    today: date,
) -> str:
    """The usage chart of ``first`` to ``last`` (every day, quiet ones empty), its tools in
    the catalog's order and names, as the catalog page lists them."""
    days = usage_report(account_id, rows, first, last, "day", catalog).days
    names = {t.tool: t.name for t in catalog_tools(catalog).tools}
    return usage_chart.chart(days, names, today)


def finance_report(report: Report) -> FinanceReport:
    return FinanceReport.model_validate(document(report))


def _tool_name(tool: str, catalog: Catalog) -> str:
    price = catalog.tools.get(tool)
    return price.name if price is not None else tool


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
