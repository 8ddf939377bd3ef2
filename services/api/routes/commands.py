"""Commands over HTTP: each produces its Kafka command and answers with the ledger's outcome.

A refusal is an error status with the ledger's code and figures (see ``errors``); no outcome
in time is 504: the command may still be decided, so retry with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Header

from events.commands import Command
from events.outcomes import Outcome
from services.api import commands
from services.api.deps import Account, PortsDep
from services.api.errors import documented, error, refused
from services.api.ports import Ports
from services.ledger.client import LedgerTimeout

router = APIRouter(tags=["commands"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="The same key for a retry makes it the same command (decided once).",
    ),
]
ERRORS = documented(401, 402, 403, 404, 409, 422, 503, 504)


@router.post("/accounts/{account_id}/tool-uses", responses=ERRORS)
async def use_tool(
    account_id: Account, body: commands.ToolUse, ports: PortsDep, key: IdempotencyKey = None
) -> Outcome:
    """Charge the account for using an AI tool; 402 "Insufficient Credits" charges nothing."""
    unknown = commands.unknown_item(ports.catalog, tool=body.tool)
    if unknown is not None:
        raise unknown
    command = commands.use_tool(account_id, body, key or uuid.uuid4().hex, datetime.now(UTC))
    return await decided(ports, command)


@router.post("/accounts/{account_id}/packages", responses=ERRORS)
async def buy_package(
    account_id: Account,
    body: commands.PackagePurchase,
    ports: PortsDep,
    key: IdempotencyKey = None,
) -> Outcome:
    """Add a purchased credit package (purchased credits never expire)."""
    unknown = commands.unknown_item(ports.catalog, package=body.package)
    if unknown is not None:
        raise unknown
    command = commands.buy_package(account_id, body, key or uuid.uuid4().hex, datetime.now(UTC))
    return await decided(ports, command)


async def decided(ports: Ports, command: Command) -> Outcome:
    try:
        outcome = await ports.ledger.decide(command)
    except LedgerTimeout as timeout:
        message = "no outcome in time; retry with the same Idempotency-Key"
        raise error(504, "ledger_timeout", message, command_id=command.command_id) from timeout
    except KafkaError as failure:
        message = "the ledger cannot be reached; retry with the same Idempotency-Key"
        raise error(503, "ledger_unavailable", message, command_id=command.command_id) from failure
    if outcome.status == "refused":
        raise refused(outcome)
    return outcome
