"""Who the token stands for: the page asks, to know which account to show."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from services.api.auth import Scope
from services.api.deps import Authenticated
from services.api.errors import documented

router = APIRouter(tags=["session"])


class Me(BaseModel):
    account_id: str | None
    """The one account this token sees; None for an internal caller, who sees every one."""
    service: bool
    scope: Scope
    """``account``, or the internal caller's: ``billing``, ``workers`` or ``support``."""


@router.get("/me", responses=documented(401))
async def me(who: Authenticated) -> Me:
    return Me(account_id=who.account_id, service=who.is_service, scope=who.scope)
