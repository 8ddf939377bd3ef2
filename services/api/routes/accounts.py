"""Reading an account: the sidebar's balance, its details (with the forecast at the recent
pace), its history, its usage by tool or day, and its live stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from events.balances import BalanceUpdated
from projections.balance import BalanceView
from projections.forecast import WINDOW_DAYS
from services.api import models, views
from services.api.deps import AccountId, Authenticated, LimitsDep, PortsDep, SettingsDep
from services.api.errors import documented, documented_json, error
from services.api.hub import Subscription
from services.api.ports import Ports
from services.api.streams import HEARTBEAT, SSE, EventStream, event

HISTORY_LIMIT_MAX = 100
USAGE_DAYS_MAX = 366
OFFSET_MAX = 10_000_000
router = APIRouter(tags=["accounts"])


async def opened(ports: Ports, account_id: str) -> BalanceView:
    """The account's row of the read model; an account is known once it has been opened."""
    view = await ports.reads.view(account_id)
    if view is None or not view.account.opened:
        raise error(404, "unknown_account", f"no account {account_id}")
    return view


@router.get("/accounts/{account_id}/balance", responses=documented(401, 403, 404, 422))
async def balance(account_id: AccountId, ports: PortsDep) -> BalanceUpdated:
    """The sidebar's figure: total spendable credits, split by kind, as of ``version``."""
    return (await opened(ports, account_id)).message()


@router.get("/accounts/{account_id}", responses=documented(401, 403, 404, 422))
async def details(
    account_id: AccountId, ports: PortsDep, settings: SettingsDep
) -> models.AccountDetails:
    """What clicking the balance shows: plan, renewal date, credits by kind, lots, activity."""
    view = await opened(ports, account_id)
    recent = await ports.reads.history(account_id, view.version, 0, settings.api_recent_activity)
    today = datetime.now(UTC).date()  # the pace is of the days up to today, used or quiet
    used = await ports.reads.usage(account_id, today - timedelta(days=WINDOW_DAYS - 1), today)
    return views.details(view, recent, ports.catalog, used, today)


@router.get("/accounts/{account_id}/usage", responses=documented(401, 403, 404, 422))
async def usage(
    account_id: AccountId,
    ports: PortsDep,
    first: Annotated[
        date | None,
        Query(alias="from", description="first day (UTC); default: the cycle's start"),
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="last day; default today")] = None,
    by: Annotated[Literal["tool", "day"], Query(description="totals by tool, or by day")] = "day",
) -> models.UsageReport:
    """Credits used by the account's tools, by tool or by day (each day split by tool): the
    figures of the page's chart. At most a year at once."""
    view = await opened(ports, account_id)
    first, last = days_of(view, first, last or datetime.now(UTC).date())
    rows = await ports.reads.usage(account_id, first, last)
    return views.usage_report(account_id, rows, first, last, by, ports.catalog)


@router.get(
    "/accounts/{account_id}/usage/chart",
    response_class=Response,
    responses=documented(401, 403, 404, 422) | {200: {"content": {"image/svg+xml": {}}}},
)
async def usage_chart(
    account_id: AccountId,
    ports: PortsDep,
    first: Annotated[
        date | None,
        Query(alias="from", description="first day (UTC); default: the cycle's start"),
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="last day; default: the cycle's last")
    ] = None,
) -> Response:
    """The page's chart of credits used per day, stacked by tool, as SVG (``rect.bar`` with
    ``data-day``, ``data-tool``, ``data-credits``; a title and the figures as its text
    alternative). By default the whole current cycle, the days still ahead shaded."""
    view = await opened(ports, account_id)
    today, cycle_end = datetime.now(UTC).date(), view.account.cycle_end
    first, last = days_of(view, first, last or (_last_day(cycle_end) if cycle_end else today))
    rows = await ports.reads.usage(account_id, first, last)
    svg = views.usage_svg(account_id, rows, first, last, ports.catalog, today)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def days_of(view: BalanceView, first: date | None, last: date) -> tuple[date, date]:
    """The range asked for, from the cycle's start by default (30 days without a cycle);
    422 ``invalid_range`` if it runs backwards or is longer than a year."""
    cycle_start = view.account.cycle_start
    first = first or (cycle_start.date() if cycle_start else last - timedelta(days=29))
    if first > last or (last - first).days >= USAGE_DAYS_MAX:
        raise error(422, "invalid_range", f"from must be before to, at most {USAGE_DAYS_MAX} days")
    return first, last


def _last_day(cycle_end: datetime) -> date:
    """The cycle's last day: the one before its end, which is the next cycle's first instant."""
    return (cycle_end - timedelta(microseconds=1)).date()


@router.get("/accounts/{account_id}/history", responses=documented(401, 403, 404, 422))
async def account_history(
    account_id: AccountId,
    ports: PortsDep,
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX, description="entries to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=HISTORY_LIMIT_MAX, description="entries")] = 20,
) -> models.HistoryPage:
    """Every event of the account, newest first, each with the running balance after it: a
    page of the read model's history, as of the balance's version."""
    view = await opened(ports, account_id)
    page = await ports.reads.history(account_id, view.version, offset, limit)
    return views.history_page(view, page, offset, limit)


async def subscribed(
    account_id: AccountId, who: Authenticated, ports: PortsDep, limits: LimitsDep
) -> AsyncIterator[Subscription]:
    """A stream of the account, subscribed BEFORE the current balance is read, so an update
    published in between is not lost (and an older one is dropped by version). The read is
    shared with every stream opening at the same moment (``BalanceHub.current``). One token
    holds at most ``KALEMA_API_STREAMS_PER_TOKEN`` streams open (429 beyond)."""
    if not limits.streams.open(who.token_id):
        raise error(429, "too_many_streams", "this token has too many balance streams open")
    subscription = ports.hub.subscribe(account_id)
    try:
        view = await ports.hub.current(account_id)
        if view is None or not view.account.opened:
            raise error(404, "unknown_account", f"no account {account_id}")
        yield subscription
    finally:
        ports.hub.unsubscribe(subscription)
        limits.streams.close(who.token_id)


@router.get(
    "/accounts/{account_id}/balance/stream",
    response_class=EventStream,
    status_code=200,
    responses=documented_json(401, 403, 404, 422, 429) | SSE,
)
async def balance_stream(
    subscription: Annotated[Subscription, Depends(subscribed)],
) -> EventStream:
    """Server-sent events, ``event: balance`` with the ``BalanceUpdated`` as data and its
    version as id: the current balance first, then every newer one, whoever changed it; a
    comment line as a heartbeat while nothing changes."""
    return EventStream(_balance_frames(subscription), subscription.close)


async def _balance_frames(subscription: Subscription) -> AsyncIterator[bytes]:
    while True:
        update = await subscription.next()
        if subscription.closed:
            return
        if update is None:
            yield HEARTBEAT
        else:
            yield event("balance", str(update.version), update.model_dump_json())
