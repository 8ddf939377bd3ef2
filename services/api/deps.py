"""The FastAPI dependencies every handler shares: the caller, the account it may see, the ports.

Order matters and is FastAPI's: the caller is resolved first (no or a wrong token: 401, before
anything about the request is looked at), then the account id is validated (422), then access
is checked (403: an account token asking for another account learns nothing about it, not even
whether it exists).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.commands import Identifier
from services.api.auth import Caller, authenticate, may_access
from services.api.errors import ApiError, Problem, error
from services.api.ports import Ports
from services.api.settings import ApiSettings

bearer = HTTPBearer(
    auto_error=False,
    description="An account's token (sees that account) or the service token (sees all).",
)


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def ports_of(request: Request) -> Ports:
    ports: Ports = request.app.state.ports
    return ports


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    token = credentials.credentials if credentials else None
    found = authenticate(token, settings_of(request))
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


Authenticated = Annotated[Caller, Depends(caller)]
Account = Annotated[str, Depends(account)]
SettingsDep = Annotated[ApiSettings, Depends(settings_of)]
PortsDep = Annotated[Ports, Depends(ports_of)]
