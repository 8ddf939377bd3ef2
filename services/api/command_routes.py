"""One declaration per command sent over HTTP: its path, the scopes that may send it, its docs
and its catalog check. Its request body is built from the command's own fields, less the ones
the API adds (``type`` and those of ``events.commands.Command``: the id from the
``Idempotency-Key``, the account from the path, the time from the clock), so a field added to
a command reaches its route without a second copy. ``routes.commands`` turns each declaration
into a route; a command without one fails ``tests/unit/core/test_type_lists.py``. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import create_model

from events.commands import (
    BuyPackage,
    ChangePlan,
    Command,
    ConfigureAutoTopUp,
    CycleRenewed,
    DisableAutoTopUp,
    ExpireHolds,
    GrantCredits,
    RecordTopUpFailure,
    RefundPackage,
    RefundUsage,
    ReleaseHold,
    ReserveCredits,
    RestorePackage,
    SavePaymentMethod,
    SettleHold,
    UseTool,
)
from services.api.commands import Body, unknown_package, unknown_tool
from services.api.errors import ApiError
from services.ledger.core import Catalog

STAMPED = frozenset({"type", *Command.model_fields})  # what the API adds to every command
Check = Callable[[Catalog, Mapping[str, Any]], ApiError | None]


@dataclass(frozen=True)
class CommandRoute:
    """A command as an HTTP route: ``POST /accounts/{account_id}/<path>``.

    ``name`` names the route (its OpenAPI summary and operation id), ``body`` its request
    body's schema, ``about`` that body's description; ``description`` is the route's text in
    the docs; ``check`` refuses, before the ledger does, a name the catalog does not know."""

    path: str
    command: type[Command]
    scopes: tuple[str, ...]
    name: str
    body: str
    description: str
    about: str | None = None
    check: Check | None = None


ROUTES: tuple[CommandRoute, ...] = (
    CommandRoute(
        "tool-uses",
        UseTool,
        ("account", "workers"),
        "use_tool",
        "ToolUse",
        'Charge the account for using an AI tool; 402 "Insufficient Credits" charges nothing.\n'
        "Scopes: account (its own), workers.",
        "Use an AI tool ``units`` times; charged at the catalog's cost per use.",
        unknown_tool,
    ),
    CommandRoute(
        "holds",
        ReserveCredits,
        ("workers",),
        "reserve",
        "Reservation",
        "Set credits aside for long-running work (``ReserveCredits``). Scope: workers.",
        "Set credits aside for long-running work: ``units`` of ``tool``, or ``credits``.",
    ),
    CommandRoute(
        "hold-settlements",
        SettleHold,
        ("workers",),
        "settle",
        "Settlement",
        "Charge at most what a hold reserved, give the rest back. Scope: workers.",
    ),
    CommandRoute(
        "hold-releases",
        ReleaseHold,
        ("workers",),
        "release",
        "Release",
        "Give everything a hold reserved back. Scope: workers.",
    ),
    CommandRoute(
        "hold-expiries",
        ExpireHolds,
        ("workers",),
        "expire_holds",
        "HoldExpiry",
        "Release every hold past its ``expires_at`` (a scheduler's nudge). Scope: workers.",
    ),
    CommandRoute(
        "usage-refunds",
        RefundUsage,
        ("workers",),
        "refund_usage",
        "UsageRefund",
        "Give back exactly what a use took, to the lots it came from, once. Scope: workers.",
        "Give back exactly what a use (or settled hold) took: ``of_command_id`` is its command.",
    ),
    CommandRoute(
        "renewals",
        CycleRenewed,
        ("billing",),
        "renew",
        "Renewal",
        "A new monthly credit cycle (``CycleRenewed``). Scope: billing.",
        "Billing started a monthly credit cycle.",
    ),
    CommandRoute(
        "packages",
        BuyPackage,
        ("billing",),
        "buy_package",
        "PackagePurchase",
        "Add a package billing was paid for, by ``payment_ref``. Scope: billing (an account buys\n"
        "through ``/checkouts``: its credits arrive when the payment provider confirms).",
        "Billing adds a package it was paid for, by ``payment_ref`` (one package per payment):\n"
        "as quoted at checkout (``offer``) or at today's catalog price; a ``paid`` amount that is "
        "not\nthat price is parked, not credited.",
        unknown_package,
    ),
    CommandRoute(
        "package-refunds",
        RefundPackage,
        ("billing",),
        "refund_package",
        "PackageRefund",
        "A package's payment was refunded or charged back. Scope: billing.",
        "A package's payment was refunded or charged back (``reason``); a partial refund says\n"
        "how much of the payment has been refunded so far, in all (``refunded_cents``).",
    ),
    CommandRoute(
        "package-restorations",
        RestorePackage,
        ("billing",),
        "restore_package",
        "PackageRestoration",
        "The dispute over a charged-back payment was won: what the chargeback removed comes\n"
        "back. Scope: billing.",
        "The dispute over a charged-back payment was won: what the chargeback removed comes back.",
    ),
    CommandRoute(
        "plan-changes",
        ChangePlan,
        ("billing",),
        "change_plan",
        "PlanChange",
        "Move to another plan: upgrades act at once, downgrades at renewal. Scope: billing.",
    ),
    CommandRoute(
        "grants",
        GrantCredits,
        ("support",),
        "grant",
        "Grant",
        "Support or promotional credits. Scope: support.",
    ),
    CommandRoute(
        "auto-top-up",
        ConfigureAutoTopUp,
        ("account", "billing"),
        "configure_auto_top_up",
        "AutoTopUp",
        "Turn automatic top-ups on (or change them); 409 ``no_payment_method`` until a card is\n"
        "saved (``POST /accounts/{id}/card-setups``). Scopes: account (its own), billing.",
        "Buy ``package`` with the saved card whenever the spendable balance falls below\n"
        "``threshold_credits``, at most ``max_per_month`` times a calendar month (UTC).",
        unknown_package,
    ),
    CommandRoute(
        "auto-top-up/off",
        DisableAutoTopUp,
        ("account", "billing"),
        "disable_auto_top_up",
        "AutoTopUpOff",
        "Turn automatic top-ups off; one being charged still arrives. Scopes: account (its\n"
        "own), billing.",
    ),
    CommandRoute(
        "payment-methods",
        SavePaymentMethod,
        ("billing",),
        "save_payment_method",
        "SavedCard",
        "A card saved for off-session charges (the provider's ``card.saved`` webhook does this\n"
        "itself). Scope: billing.",
        "Billing saved a card for off-session charges (the provider's setup checkout).",
    ),
    CommandRoute(
        "top-up-failures",
        RecordTopUpFailure,
        ("billing",),
        "record_top_up_failure",
        "TopUpFailure",
        "The charge of an automatic top-up failed (the top-up process and the webhook send\n"
        "this themselves). Scope: billing.",
        "The off-session charge of top-up ``request_id`` failed, for the provider's ``reason``.",
    ),
)


def body_of(route: CommandRoute) -> type[Body]:
    """The request body of ``route``: its command's own fields, with their types, limits and
    defaults; the command's own checks across fields run when the body becomes the command."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in route.command.model_fields.items()
        if name not in STAMPED
    }
    body = create_model(route.body, __base__=Body, __doc__=route.about, **fields)
    body.command = route.command
    return body


BODIES: Mapping[type[Command], type[Body]] = {route.command: body_of(route) for route in ROUTES}
