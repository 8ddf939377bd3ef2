"""The catalog: tools with their credits per use, plans, packages. Any valid token reads it."""

from __future__ import annotations

from fastapi import APIRouter

from services.api import catalog
from services.api.deps import Authenticated, PortsDep
from services.api.errors import documented

router = APIRouter(prefix="/catalog", tags=["catalog"], responses=documented(401))


@router.get("/tools")
async def tools(_: Authenticated, ports: PortsDep) -> catalog.Tools:
    return catalog.tools(ports.catalog)


@router.get("/plans")
async def plans(_: Authenticated, ports: PortsDep) -> catalog.Plans:
    return catalog.plans(ports.catalog)


@router.get("/packages")
async def packages(_: Authenticated, ports: PortsDep) -> catalog.Packages:
    return catalog.packages(ports.catalog)
