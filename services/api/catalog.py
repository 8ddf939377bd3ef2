"""The catalog as the page and other callers read it: lists in a stable order, with ids.

The catalog file is the ledger's own (``services/ledger/catalog.json``); the ledger remains the
authority on prices, and every outcome says what a use was charged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from services.ledger.core import Catalog


class Tool(BaseModel):
    tool: str
    name: str
    credits: int
    complexity: Literal["simple", "medium", "complex"]


class PlanOffer(BaseModel):
    plan: str
    name: str
    credits_per_cycle: int


class Package(BaseModel):
    package: str
    name: str
    credits: int
    price_cents: int
    currency: str


class Tools(BaseModel):
    version: int
    tools: list[Tool]


class Plans(BaseModel):
    version: int
    plans: list[PlanOffer]


class Packages(BaseModel):
    version: int
    packages: list[Package]


def tools(catalog: Catalog) -> Tools:
    """Cheapest first, as the product page lists them (simple tasks before complex ones)."""
    ordered = sorted(catalog.tools.items(), key=lambda item: (item[1].credits, item[0]))
    return Tools(
        version=catalog.version,
        tools=[Tool(tool=k, **v.model_dump()) for k, v in ordered],
    )


def plans(catalog: Catalog) -> Plans:
    ordered = sorted(catalog.plans.items(), key=lambda item: (item[1].credits_per_cycle, item[0]))
    return Plans(
        version=catalog.version,
        plans=[PlanOffer(plan=k, **v.model_dump()) for k, v in ordered],
    )


def packages(catalog: Catalog) -> Packages:
    ordered = sorted(catalog.packages.items(), key=lambda item: (item[1].credits, item[0]))
    return Packages(
        version=catalog.version,
        packages=[Package(package=k, **v.model_dump()) for k, v in ordered],
    )
