"""Settings of the HTTP API: the ledger's settings (same store, same topics) and its own.

The only place the API reads the environment; prefix ``KALEMA_``. Tokens are secrets
(``SecretStr``): they print as ``**********`` and are never logged. The development defaults
below work with the README's run command and are refused on any address but loopback.

    KALEMA_API_SERVICE_TOKEN=...                            # internal callers: every account
    KALEMA_API_ACCOUNT_TOKENS='{"<token>": "acct-42"}'      # token -> the one account it sees
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr

from services.settings import Settings

DEV_SERVICE_TOKEN = "dev-service-token"
DEV_ACCOUNT = "acct-demo"
DEV_ACCOUNT_TOKEN = "dev-token-acct-demo"


class ApiSettings(Settings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    api_service_token: SecretStr = SecretStr(DEV_SERVICE_TOKEN)
    api_account_tokens: dict[SecretStr, str] = Field(
        default_factory=lambda: {SecretStr(DEV_ACCOUNT_TOKEN): DEV_ACCOUNT}
    )
    api_demo_account: str = DEV_ACCOUNT

    api_ledger_timeout_s: float = Field(10.0, gt=0)
    """How long a command over HTTP waits for its outcome before answering 504."""
    api_recent_activity: int = Field(10, ge=0)
    """History entries in the details view."""
    api_stream_refresh_s: float = Field(30.0, gt=0)
    """An open balance stream re-reads the read model this often, in case an update was missed."""
    api_stream_recent_accounts: int = Field(10_000, gt=0)
    """Latest balances remembered from the topic, for streams that open while the read model
    has not yet committed what the projector already published."""
    api_shutdown_grace_s: int = Field(3, ge=1)
    """On shutdown, open streams are cut after this long."""

    def url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def page_url(self) -> str:
        """The page's address to print: with the development token if that one is configured
        (it is public, in this file), never with a real one."""
        dev = any(t.get_secret_value() == DEV_ACCOUNT_TOKEN for t in self.api_account_tokens)
        return f"{self.url()}/#token={DEV_ACCOUNT_TOKEN if dev else '<an account token>'}"

    def dev_tokens_exposed(self) -> bool:
        """Whether a development default token would be served beyond this machine."""
        dev = self.api_service_token.get_secret_value() == DEV_SERVICE_TOKEN or any(
            token.get_secret_value() == DEV_ACCOUNT_TOKEN for token in self.api_account_tokens
        )
        return dev and not _loopback(self.api_host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
