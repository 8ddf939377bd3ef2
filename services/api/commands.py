"""HTTP bodies to ledger commands. Pure: the time and the idempotency key come in.

The command id is derived from the account and the caller's ``Idempotency-Key``: a retry with
the same key is the same command (the ledger answers it with the first outcome), and one
account's key can never name another account's command.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from events.commands import BuyPackage, Identifier, Units, UseTool
from services.api.errors import ApiError, error
from services.ledger.core import Catalog


class ToolUse(BaseModel):
    """Use an AI tool ``units`` times; charged at the catalog's cost per use."""

    model_config = ConfigDict(extra="forbid")

    tool: Identifier
    units: Units = 1


class PackagePurchase(BaseModel):
    """Buy a credit package. ``payment_ref`` is the payment that paid for it; without one, a
    reference is derived from the command (development: the page takes no payments)."""

    model_config = ConfigDict(extra="forbid")

    package: Identifier
    payment_ref: Identifier | None = None


def command_id(account_id: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{account_id}\n{idempotency_key}".encode()).hexdigest()
    return f"http-{digest[:32]}"


def use_tool(account_id: str, body: ToolUse, key: str, now: datetime) -> UseTool:
    return UseTool(**_stamp(account_id, key, now), tool=body.tool, units=body.units)


def buy_package(account_id: str, body: PackagePurchase, key: str, now: datetime) -> BuyPackage:
    stamp = _stamp(account_id, key, now)
    payment_ref = body.payment_ref or f"web-{stamp['command_id']}"
    return BuyPackage(**stamp, package=body.package, payment_ref=payment_ref)


def unknown_item(
    catalog: Catalog, *, tool: str | None = None, package: str | None = None
) -> ApiError | None:
    """A name the catalog does not know, refused here so a typo is not dead-lettered by the
    ledger. (The ledger still decides; its own refusal would read the same.)"""
    if tool is not None and tool not in catalog.tools:
        return error(422, "unknown_tool", f"no tool {tool!r}; see /catalog/tools")
    if package is not None and package not in catalog.packages:
        return error(422, "unknown_package", f"no package {package!r}; see /catalog/packages")
    return None


def _stamp(account_id: str, key: str, now: datetime) -> dict[str, Any]:
    return {"command_id": command_id(account_id, key), "account_id": account_id, "occurred_at": now}
