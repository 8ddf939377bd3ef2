"""Bearer tokens: who is calling, and which accounts they may see. Pure; the FastAPI
dependencies that apply it live in ``deps``.

An account token sees its own account only; the service token (internal callers: AI workers,
support tools) sees every account. Tokens are compared in constant time, all of them every time,
so the answer's timing says nothing about which token came close.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from services.api.settings import ApiSettings


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: an account's holder, or the service (``account_id`` None)."""

    account_id: str | None

    @property
    def is_service(self) -> bool:
        return self.account_id is None


SERVICE = Caller(None)


def authenticate(token: str | None, settings: ApiSettings) -> Caller | None:
    """The caller a bearer token stands for, or None if it stands for no one."""
    if not token:
        return None
    given = token.encode()
    is_service = hmac.compare_digest(given, settings.api_service_token.get_secret_value().encode())
    accounts = [
        account_id
        for secret, account_id in settings.api_account_tokens.items()
        if hmac.compare_digest(given, secret.get_secret_value().encode())
    ]
    if is_service:
        return SERVICE
    return Caller(accounts[0]) if accounts else None


def may_access(caller: Caller, account_id: str) -> bool:
    return caller.is_service or caller.account_id == account_id
