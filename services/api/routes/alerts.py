"""The page's alerts: a server-sent event stream of the account's balance alerts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from services.api.alerts import AlertFeed, AlertHub, AlertStream
from services.api.deps import AccountId, Authenticated, LimitsDep, PortsDep, SettingsDep
from services.api.errors import documented_json, error
from services.api.streams import HEARTBEAT, SSE, EventStream, event


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
        hub = AlertHub(settings.api_stream_heartbeat_s)
        state.alert_feed = AlertFeed(settings, hub)
    feed: AlertFeed = state.alert_feed
    return await feed.started()


async def subscribed(
    account_id: AccountId,
    request: Request,
    settings: SettingsDep,
    who: Authenticated,
    limits: LimitsDep,
) -> AsyncIterator[tuple[AlertHub, AlertStream]]:
    """The stream, subscribed before the response starts. One token holds at most
    ``KALEMA_API_STREAMS_PER_TOKEN`` alert streams open (429 beyond), as for balance streams."""
    if not limits.alert_streams.open(who.token_id):
        raise error(429, "too_many_streams", "this token has too many alert streams open")
    try:
        hub = await _hub(request, settings)
        stream = hub.subscribe(account_id)
        try:
            yield hub, stream
        finally:
            hub.unsubscribe(stream)
    finally:
        limits.alert_streams.close(who.token_id)


@router.get(
    "/accounts/{account_id}/alerts/stream",
    response_class=EventStream,
    status_code=200,
    responses=documented_json(401, 403, 422, 429) | SSE,
)
async def alert_stream(
    subscription: Annotated[tuple[AlertHub, AlertStream], Depends(subscribed)], ports: PortsDep
) -> EventStream:
    """Server-sent events, ``event: alert`` with the ``BalanceAlert`` as data and its
    ``alert_id`` as id: low balance, depleted and subscription credits expiring soon, as they
    arrive (none from before the stream opened); a comment line as a heartbeat while quiet."""
    _, stream = subscription
    if ports.hub.closed:  # the server is stopping
        stream.close()
    return EventStream(_alert_frames(stream), stream.close)


async def _alert_frames(stream: AlertStream) -> AsyncIterator[bytes]:
    while True:
        alerts = await stream.next()
        if stream.closed:
            return
        if not alerts:
            yield HEARTBEAT
        for alert in alerts:
            yield event("alert", alert.alert_id, alert.model_dump_json())
