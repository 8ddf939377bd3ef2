"""Bearer tokens: who is calling, and what they may do. Pure; the FastAPI dependencies that
apply it live in ``deps``.

Every token has one scope. An ``account`` token acts on its own account only: it reads it, uses
tools and starts checkouts (it can never add credits: those come from a confirmed payment).
The internal callers' tokens read every account and may send the commands of their trade:
``billing`` renewals, purchases, package refunds and plan changes; ``workers`` tool uses, holds
and refunds of uses; ``support`` grants. Anything else is 403. Tokens are compared in constant
time, all of them every time, so the answer's timing says nothing about which token came close.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from services.api.settings import ApiSettings

Scope = Literal["account", "billing", "workers", "support"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: its scope, the one account of an account token, and a
    fingerprint of its token (to count what one token holds open, without keeping it)."""

    scope: Scope
    account_id: str | None = None
    token_id: str = ""

    @property
    def is_service(self) -> bool:
        return self.scope != "account"


def authenticate(token: str | None, settings: ApiSettings) -> Caller | None:
    """The caller a bearer token stands for, or None if it stands for no one."""
    if not token:
        return None
    given = token.encode()
    token_id = hashlib.sha256(given).hexdigest()[:16]
    services = [
        scope
        for secret, scope in settings.api_service_tokens.items()
        if hmac.compare_digest(given, secret.get_secret_value().encode())
    ]
    accounts = [
        account_id
        for secret, account_id in settings.api_account_tokens.items()
        if hmac.compare_digest(given, secret.get_secret_value().encode())
    ]
    if services:
        return Caller(services[0], None, token_id)
    return Caller("account", accounts[0], token_id) if accounts else None


def may_access(caller: Caller, account_id: str) -> bool:
    """Reading an account: its own token, or any internal caller."""
    return caller.is_service or caller.account_id == account_id


def may_act(caller: Caller, account_id: str, scopes: frozenset[Scope]) -> bool:
    """Sending a command to an account: the caller's scope is one the command allows, and an
    account token only ever acts on its own account."""
    return caller.scope in scopes and may_access(caller, account_id)
