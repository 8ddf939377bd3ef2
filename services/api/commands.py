"""HTTP bodies to ledger commands. Pure: the time and the idempotency key come in.

Bodies follow the wire's rules (``events.commands``): integers are JSON integers, times are
ISO 8601 text with a zone, text has no control characters, and (``json_bodies``) no key twice.
Each body is its command without the fields every command carries (``command_id``,
``account_id``, ``occurred_at``): those come from the path, the ``Idempotency-Key`` and the
clock (timezone-aware UTC now). The bodies themselves are built from the commands, one per
declaration in ``command_routes``. The command id is derived from the account and the key: a retry
with the same key is the same command (the ledger answers it with the first outcome), and one
account's key can never name another account's command.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from events.commands import Command
from services.api.errors import ApiError, error
from services.ledger.core import Catalog


class Body(BaseModel):
    """A command's own fields, as an HTTP body."""

    model_config = ConfigDict(extra="forbid")
    command: ClassVar[type[Command]]

    def to_command(self, account_id: str, key: str, now: datetime) -> Command:
        """The command; a combination the command itself refuses is 422 ``invalid_request``."""
        try:
            return self.command(**_stamp(account_id, key, now), **self.model_dump())
        except ValidationError as invalid:
            raise error(
                422,
                "invalid_request",
                "the request is malformed; see errors",
                errors=invalid.errors(include_url=False, include_context=False),
            ) from invalid


def command_id(account_id: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{account_id}\n{idempotency_key}".encode()).hexdigest()
    return f"http-{digest[:32]}"


def fingerprint(method: str, path: str, body: Body) -> str:
    """What one request was: a key reused with another method, path or body is refused. Taken
    over the parsed body, so a retry serialised with other whitespace or key order (or with a
    default spelled out) is the same request."""
    fields = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method}\n{path}\n{fields}".encode()).hexdigest()


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


def unknown_tool(catalog: Catalog, body: Mapping[str, Any]) -> ApiError | None:
    """A use of a tool the catalog does not know."""
    return unknown_item(catalog, tool=body["tool"])


def unknown_package(catalog: Catalog, body: Mapping[str, Any]) -> ApiError | None:
    """A purchase of a package the catalog does not know (a quoted ``offer`` names its own)."""
    return None if body.get("offer") is not None else unknown_item(catalog, package=body["package"])


def _stamp(account_id: str, key: str, now: datetime) -> dict[str, Any]:
    return {"command_id": command_id(account_id, key), "account_id": account_id, "occurred_at": now}
