"""The versioned catalog of tools, plans and packages: data, validated here, loaded at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str


class ToolPrice(_Entry):
    """What one unit of an AI tool costs."""

    credits: int = Field(gt=0)
    complexity: Literal["simple", "medium", "complex"]


class PlanTerms(_Entry):
    """A plan's subscription allowance, granted every monthly credit cycle."""

    credits_per_cycle: int = Field(gt=0)


class PackageOffer(_Entry):
    """A credit package for sale; purchased credits never expire."""

    credits: int = Field(gt=0)
    price_cents: int = Field(ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)


class Catalog(BaseModel):
    """One version of the price list. Uses record the version and unit cost they paid."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    max_hold_hours: int = Field(default=24, gt=0, le=24 * 31)  # how long work may hold credits
    tools: dict[str, ToolPrice]
    plans: dict[str, PlanTerms]
    packages: dict[str, PackageOffer]

    @model_validator(mode="after")
    def _not_empty(self) -> Catalog:
        if not (self.tools and self.plans and self.packages):
            raise ValueError("a catalog needs at least one tool, plan and package")
        return self
