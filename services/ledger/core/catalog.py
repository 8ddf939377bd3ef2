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


def refunded_credits(credits: int, amount_cents: int, refunded_cents: int) -> int:
    """The credits a refund of ``refunded_cents`` out of ``amount_cents`` paid for: the
    refunded share of the package, rounded down, so that the customer keeps any fraction of a
    credit (a partial refund never removes more than it paid for). A free package's credits
    were paid for by nothing, so no refund takes them."""
    assert refunded_cents >= 0 and amount_cents >= 0 and credits >= 0
    if amount_cents == 0:
        return 0
    if refunded_cents >= amount_cents:
        return credits
    return credits * refunded_cents // amount_cents
