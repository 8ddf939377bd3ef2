"""The FastAPI dependencies every handler shares: the caller, the account it may see or act
on, the ports and the limits.

Order matters and is FastAPI's: the caller is resolved first (no or a wrong token: 401, before
anything about the request is looked at), then the account id is validated (422), then access
is checked (403: an account token asking for another account learns nothing about it, not even
whether it exists; a token whose scope does not allow a command is refused the same way).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.commands import Identifier
from services.api.auth import Caller, Scope, authenticate, may_access, may_act
from services.api.errors import ApiError, Problem, error
from services.api.limits import IdempotencyKeys, RateLimiter, StreamQuota
from services.api.ports import Ports
from services.api.settings import ApiSettings

bearer = HTTPBearer(
    auto_error=False,
    description="An account's token (its own account) or an internal caller's scoped token "
    "(billing, workers, support: every account, the commands of their scope).",
)


# The dependencies below are ``async def`` though they never await: FastAPI runs a plain
# ``def`` dependency in a worker thread, a thread hand-off per request (and a queue for the
# thread pool's 40 places when thousands of balance streams open at once).


async def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def ports_of(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    token = credentials.credentials if credentials else None
    found = authenticate(token, request.app.state.settings)
    if found is None:
        problem = Problem(code="unauthenticated", message="a valid bearer token is required")
        raise ApiError(401, problem, headers={"WWW-Authenticate": "Bearer"})
    return found


async def account(
    account_id: Annotated[Identifier, Path(description="The account, as the ledger names it.")],
    who: Annotated[Caller, Depends(caller)],
) -> str:
    if not may_access(who, account_id):
        raise error(403, "forbidden", "this token may not see that account")
    return account_id


def acting(*scopes: Scope) -> Callable[..., Awaitable[str]]:
    """A dependency: the account of the path, if the caller's scope may send this command."""
    allowed = frozenset(scopes)

    async def account_acted_on(
        account_id: Annotated[Identifier, Path(description="The account, as the ledger names it.")],
        who: Annotated[Caller, Depends(caller)],
    ) -> str:
        if not may_act(who, account_id, allowed):
            raise error(403, "forbidden", "this token may not do that to that account")
        return account_id

    return account_acted_on


@dataclass(frozen=True)
class Limits:
    """The API process's guards (see ``limits``)."""

    commands: RateLimiter
    keys: IdempotencyKeys
    streams: StreamQuota
    alert_streams: StreamQuota

    @classmethod
    def of(cls, settings: ApiSettings) -> Limits:
        return cls(
            RateLimiter(settings.api_commands_per_account_per_s, settings.api_commands_burst),
            IdempotencyKeys(settings.api_idempotency_keys),
            StreamQuota(settings.api_streams_per_token),
            StreamQuota(settings.api_streams_per_token),
        )


async def limits_of(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def rate_limited(limits: Limits, account_id: str) -> None:
    """429 with ``Retry-After`` if the account has sent too many commands lately."""
    wait_s = limits.commands.take(account_id, time.monotonic())
    if wait_s is not None:
        problem = Problem(code="rate_limited", message="too many commands for this account")
        raise ApiError(429, problem, headers={"Retry-After": str(math.ceil(wait_s))})


Authenticated = Annotated[Caller, Depends(caller)]
AccountId = Annotated[str, Depends(account)]
SettingsDep = Annotated[ApiSettings, Depends(settings_of)]
PortsDep = Annotated[Ports, Depends(ports_of)]
LimitsDep = Annotated[Limits, Depends(limits_of)]
