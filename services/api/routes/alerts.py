"""The page's alerts: a server-sent event stream of the account's balance alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from events.balances import BalanceAlert
from services.api.alerts import AlertFeed, AlertHub
from services.api.deps import AccountId, Authenticated, LimitsDep, PortsDep, SettingsDep
from services.api.errors import documented_json, error

POLL_S = 1.0  # how often a quiet stream looks whether the server is stopping


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    feed: AlertFeed | None = getattr(app.state, "alert_feed", None)
    if feed is not None:
        await feed.stop()


router = APIRouter(tags=["accounts"], lifespan=lifespan)


async def _hub(request: Request, settings: SettingsDep) -> AlertHub:
    state = request.app.state
    if getattr(state, "alert_feed", None) is None:
        state.alert_feed = AlertFeed(settings, AlertHub())
    feed: AlertFeed = state.alert_feed
    return await feed.started()


async def mailbox_of(
    account_id: AccountId,
    request: Request,
    settings: SettingsDep,
    who: Authenticated,
    limits: LimitsDep,
) -> AsyncIterator[asyncio.Queue[BalanceAlert]]:
    """The stream's mailbox, subscribed before the response starts. One token holds at most
    ``KALEMA_API_STREAMS_PER_TOKEN`` alert streams open (429 beyond), as for balance streams."""
    if not limits.alert_streams.open(who.token_id):
        raise error(429, "too_many_streams", "this token has too many alert streams open")
    try:
        hub = await _hub(request, settings)
        mailbox = hub.subscribe(account_id)
        try:
            yield mailbox
        finally:
            hub.unsubscribe(account_id, mailbox)
    finally:
        limits.alert_streams.close(who.token_id)


@router.get(
    "/accounts/{account_id}/alerts/stream",
    response_class=EventSourceResponse,
    responses=documented_json(401, 403, 422, 429),
)
async def alert_stream(
    mailbox: Annotated[asyncio.Queue[BalanceAlert], Depends(mailbox_of)], ports: PortsDep
) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events, ``event: alert`` with the ``BalanceAlert`` as data and its
    ``alert_id`` as id: low balance, depleted and subscription credits expiring soon, as they
    arrive (none from before the stream opened)."""
    while not ports.hub.closed:  # the balance hub closes when the server stops
        try:
            async with asyncio.timeout(POLL_S):
                alert = await mailbox.get()
        except TimeoutError:
            continue
        yield ServerSentEvent(event="alert", id=alert.alert_id, data=alert)
