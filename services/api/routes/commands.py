"""Commands over HTTP: each produces its Kafka command and answers with the ledger's outcome.

Every route names the scopes that may send it (see ``auth``); any other token is 403. An
account token uses tools and starts checkouts (``routes.checkouts``), nothing else: purchased
credits arrive only through a confirmed payment. A refusal is an error status with the ledger's
code and figures (see ``errors``); no outcome in time is 504: the command may still be decided,
so retry with the same ``Idempotency-Key``. A key names one request: reused with another
method, path or body it is 422 ``idempotency_key_reused``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, Request

from events.commands import Command
from events.outcomes import Outcome
from services.api import commands
from services.api.deps import LimitsDep, PortsDep, acting, rate_limited
from services.api.errors import ApiError, documented, error, refused
from services.api.json_bodies import StrictJsonRoute
from services.api.keys import MemoryKeys
from services.api.ports import Ports
from services.ledger.client import LedgerTimeout

router = APIRouter(tags=["commands"], route_class=StrictJsonRoute)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Names one request: a retry with the same key is the same command (decided "
        "once); the same key with another method, path or body is 422.",
    ),
]
ERRORS = documented(401, 402, 403, 404, 409, 413, 422, 429, 503, 504)
UsersOrWorkers = Annotated[str, Depends(acting("account", "workers"))]
Workers = Annotated[str, Depends(acting("workers"))]
Billing = Annotated[str, Depends(acting("billing"))]
Support = Annotated[str, Depends(acting("support"))]
AccountOrBilling = Annotated[str, Depends(acting("account", "billing"))]


@router.post("/accounts/{account_id}/tool-uses", responses=ERRORS)
async def use_tool(
    account_id: UsersOrWorkers,
    body: commands.ToolUse,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Charge the account for using an AI tool; 402 "Insufficient Credits" charges nothing.
    Scopes: account (its own), workers."""
    unknown = commands.unknown_item(ports.catalog, tool=body.tool)
    if unknown is not None:
        raise unknown
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/holds", responses=ERRORS)
async def reserve(
    account_id: Workers,
    body: commands.Reservation,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Set credits aside for long-running work (``ReserveCredits``). Scope: workers."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/hold-settlements", responses=ERRORS)
async def settle(
    account_id: Workers,
    body: commands.Settlement,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Charge at most what a hold reserved, give the rest back. Scope: workers."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/hold-releases", responses=ERRORS)
async def release(
    account_id: Workers,
    body: commands.Release,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Give everything a hold reserved back. Scope: workers."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/hold-expiries", responses=ERRORS)
async def expire_holds(
    account_id: Workers,
    body: commands.HoldExpiry,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Release every hold past its ``expires_at`` (a scheduler's nudge). Scope: workers."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/usage-refunds", responses=ERRORS)
async def refund_usage(
    account_id: Workers,
    body: commands.UsageRefund,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Give back exactly what a use took, to the lots it came from, once. Scope: workers."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/renewals", responses=ERRORS)
async def renew(
    account_id: Billing,
    body: commands.Renewal,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """A new monthly credit cycle (``CycleRenewed``). Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/packages", responses=ERRORS)
async def buy_package(
    account_id: Billing,
    body: commands.PackagePurchase,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Add a package billing was paid for, by ``payment_ref``. Scope: billing (an account buys
    through ``/checkouts``: its credits arrive when the payment provider confirms)."""
    unknown = body.offer is None and commands.unknown_item(ports.catalog, package=body.package)
    if unknown:
        raise unknown
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/package-refunds", responses=ERRORS)
async def refund_package(
    account_id: Billing,
    body: commands.PackageRefund,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """A package's payment was refunded or charged back. Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/package-restorations", responses=ERRORS)
async def restore_package(
    account_id: Billing,
    body: commands.PackageRestoration,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """The dispute over a charged-back payment was won: what the chargeback removed comes
    back. Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/plan-changes", responses=ERRORS)
async def change_plan(
    account_id: Billing,
    body: commands.PlanChange,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Move to another plan: upgrades act at once, downgrades at renewal. Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/grants", responses=ERRORS)
async def grant(
    account_id: Support,
    body: commands.Grant,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Support or promotional credits. Scope: support."""
    return await sent(request, ports, limits, account_id, body, key)


@router.put("/accounts/{account_id}/auto-top-up", responses=ERRORS)
async def configure_auto_top_up(
    account_id: AccountOrBilling,
    body: commands.AutoTopUp,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Turn automatic top-ups on (or change them): 409 ``no_payment_method`` until a card is
    saved (``POST /accounts/{id}/card-setups``). Scopes: account (its own), billing."""
    unknown = commands.unknown_item(ports.catalog, package=body.package)
    if unknown is not None:
        raise unknown
    return await sent(request, ports, limits, account_id, body, key)


@router.delete("/accounts/{account_id}/auto-top-up", responses=ERRORS)
async def disable_auto_top_up(
    account_id: AccountOrBilling,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Turn automatic top-ups off. Scopes: account (its own), billing."""
    return await sent(request, ports, limits, account_id, commands.AutoTopUpOff(), key)


@router.post("/accounts/{account_id}/payment-methods", responses=ERRORS)
async def save_payment_method(
    account_id: Billing,
    body: commands.SavedCard,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """A card saved for off-session charges (the provider's webhook does this itself).
    Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


@router.post("/accounts/{account_id}/top-up-failures", responses=ERRORS)
async def record_top_up_failure(
    account_id: Billing,
    body: commands.TopUpFailure,
    request: Request,
    ports: PortsDep,
    limits: LimitsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """The charge of an automatic top-up failed (the top-up process and the webhook send
    this themselves). Scope: billing."""
    return await sent(request, ports, limits, account_id, body, key)


async def sent(
    request: Request,
    ports: Ports,
    limits: LimitsDep,
    account_id: str,
    body: commands.Body,
    key: str | None,
) -> Outcome:
    """Rate-limit, bind the key to this request, send the command, answer its outcome."""
    rate_limited(limits, account_id)
    command = body.to_command(account_id, key or uuid.uuid4().hex, datetime.now(UTC))
    if key is not None:
        fingerprint = commands.fingerprint(request.method, request.url.path, body)
        keys = ports.keys or MemoryKeys(limits.keys)
        if not await keys.claim(command.command_id, fingerprint):
            raise key_reused(command.command_id)
    outcome = await decided(ports, command)
    if (
        outcome.command_type != type(command).__name__
    ):  # a key first used (maybe elsewhere) for another
        raise key_reused(command.command_id)
    return outcome


def key_reused(command_id: str) -> ApiError:
    message = "this Idempotency-Key already named another request (method, path or body)"
    return error(422, "idempotency_key_reused", message, command_id=command_id)


async def decided(ports: Ports, command: Command) -> Outcome:
    """The ledger's outcome; a refusal of this command raises its HTTP answer."""
    outcome = await outcome_of(ports, command)
    if outcome.status == "refused":
        raise refused(outcome)
    return outcome


async def outcome_of(ports: Ports, command: Command) -> Outcome:
    """The ledger's outcome, accepted or refused; 504 or 503 if there is none."""
    try:
        return await ports.ledger.submit(command)
    except LedgerTimeout as timeout:
        message = "no outcome in time; retry with the same Idempotency-Key"
        raise error(504, "ledger_timeout", message, command_id=command.command_id) from timeout
    except KafkaError as failure:
        message = "the ledger cannot be reached; retry with the same Idempotency-Key"
        raise error(503, "ledger_unavailable", message, command_id=command.command_id) from failure
