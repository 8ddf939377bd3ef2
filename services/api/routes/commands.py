"""Commands over HTTP: each produces its Kafka command and answers with the ledger's outcome.
One route per declaration in ``command_routes`` (path, scopes, docs, body, catalog check).

This module does not postpone its annotations: each route's body and scopes are types made
at run time, which FastAPI reads from the endpoint's signature.

Every route names the scopes that may send it (see ``auth``); any other token is 403. An
account token uses tools and starts checkouts (``routes.checkouts``), nothing else: purchased
credits arrive only through a confirmed payment. A refusal is an error status with the ledger's
code and figures (see ``errors``); no outcome in time is 504: the command may still be decided,
so retry with the same ``Idempotency-Key``. A key names one request: reused with another
method, path or body it is 422 ``idempotency_key_reused``.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Header, Request

from events.commands import Command
from events.outcomes import Outcome
from services.api import commands
from services.api.command_routes import BODIES, ROUTES, CommandRoute
from services.api.deps import LimitsDep, PortsDep, acting, rate_limited
from services.api.errors import ApiError, documented, error, refused
from services.api.json_bodies import StrictJsonRoute
from services.api.keys import MemoryKeys
from services.api.ports import Ports
from services.client import LedgerTimeout

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


def add_route(route: CommandRoute) -> None:
    """``POST /accounts/{account_id}/<path>`` for ``route``'s command, on ``router``."""
    body_type: Any = BODIES[route.command]  # a type made at run time, from the declaration
    account = Annotated[str, Depends(acting(*route.scopes))]

    async def endpoint(
        account_id: account,
        body: body_type,
        request: Request,
        ports: PortsDep,
        limits: LimitsDep,
        key: IdempotencyKey = None,
    ) -> Outcome:
        if route.check is not None:
            unknown = route.check(ports.catalog, body.model_dump())
            if unknown is not None:
                raise unknown
        return await sent(request, ports, limits, account_id, body, key)

    router.add_api_route(
        f"/accounts/{{account_id}}/{route.path}",
        endpoint,
        methods=["POST"],
        name=route.name,
        description=route.description,
        responses=ERRORS,
        response_model=Outcome,
    )


for declared in ROUTES:
    add_route(declared)


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
    outcome = await accepted(ports, command)
    if (
        outcome.command_type != type(command).__name__
    ):  # a key first used (maybe elsewhere) for another
        raise key_reused(command.command_id)
    return outcome


def key_reused(command_id: str) -> ApiError:
    message = "this Idempotency-Key already named another request (method, path or body)"
    return error(422, "idempotency_key_reused", message, command_id=command_id)


async def accepted(ports: Ports, command: Command) -> Outcome:
    """The ledger's outcome if it accepted; a refusal of this command raises its HTTP answer."""
    outcome = await awaited_outcome(ports, command)
    if outcome.status == "refused":
        raise refused(outcome)
    return outcome


async def awaited_outcome(ports: Ports, command: Command) -> Outcome:
    """The ledger's outcome once it arrives, accepted or refused; 504 or 503 if there is none."""
    try:
        return await ports.ledger.submit(command)
    except LedgerTimeout as timeout:
        message = "no outcome in time; retry with the same Idempotency-Key"
        raise error(504, "ledger_timeout", message, command_id=command.command_id) from timeout
    except KafkaError as failure:
        message = "the ledger cannot be reached; retry with the same Idempotency-Key"
        raise error(503, "ledger_unavailable", message, command_id=command.command_id) from failure
