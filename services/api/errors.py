"""Errors as HTTP answers: one body shape, ``{"code", "message", ...}``, for every refusal.

Why 402 for "Insufficient Credits": the request was well-formed and allowed, and what stands
between it and success is credits, which the caller can buy; 402 Payment Required says exactly
that and lets a client tell it apart from every other refusal by status alone. 409 Conflict
would suggest retrying once some concurrent change settles, which is not the remedy here.
Other refusals of the rules conflict with the account's state (409), name something that does
not exist (404 for the account, 422 for a tool, package or plan), or are malformed (422, code
``invalid_request``, with pydantic's reasons in ``errors``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from events.outcomes import BalanceFigures, Outcome
from events.refusals import Detail

REFUSAL_STATUS = {
    "insufficient_credits": 402,
    "unknown_account": 404,
    "unknown_tool": 422,
    "unknown_package": 422,
    "unknown_plan": 422,
    "invalid_amount": 422,
    "invalid_command": 422,
    "schema_violation": 422,
}
CONFLICT = 409


class Problem(BaseModel):
    """What went wrong: a stable ``code`` for programs, a ``message`` for people."""

    code: str
    message: str
    details: dict[str, Detail] = {}
    command_id: str | None = None
    balance: BalanceFigures | None = None
    errors: list[dict[str, Any]] | None = None
    """What was malformed (``invalid_request``), as pydantic says it."""


class ApiError(Exception):
    """An HTTP answer other than success, raised anywhere in a request."""

    def __init__(
        self, status: int, problem: Problem, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(problem.message)
        self.status = status
        self.problem = problem
        self.headers = headers


def error(status: int, code: str, message: str, **extra: Any) -> ApiError:
    return ApiError(status, Problem(code=code, message=message, **extra))


def refused(outcome: Outcome) -> ApiError:
    """A refused outcome as its HTTP answer, with the figures the ledger gave."""
    code = outcome.code or "refused"
    return ApiError(
        REFUSAL_STATUS.get(code, CONFLICT),
        Problem(
            code=code,
            message=outcome.message or code,
            details=outcome.details,
            command_id=outcome.command_id,
            balance=outcome.balance,
        ),
    )


async def answer(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        exc.problem.model_dump(mode="json", exclude_none=True),
        status_code=exc.status,
        headers=exc.headers,
    )


async def invalid(_: Request, exc: Exception) -> JSONResponse:
    """Malformed input (a bad id, a bound crossed, a body that does not fit) as a ``Problem``."""
    assert isinstance(exc, RequestValidationError)
    problem = Problem(
        code="invalid_request",
        message="the request is malformed; see errors",
        errors=jsonable_encoder(exc.errors()),
    )
    return JSONResponse(problem.model_dump(mode="json", exclude_none=True), status_code=422)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses."""
    return {status: {"model": Problem} for status in statuses}


def documented_json(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The same for a route whose success is not JSON (the event stream): errors still are."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {status: {"content": {"application/json": problem}} for status in statuses}
