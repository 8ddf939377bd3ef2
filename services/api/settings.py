"""Settings of the HTTP API: the ledger's settings (same store, same topics) and its own.

The only place the API reads the environment; prefix ``KALEMA_``. Tokens and the payment
provider's webhook secret are secrets (``SecretStr``): they print as ``**********`` and are
never logged. The development defaults below work with the README's run command; with
``KALEMA_ENVIRONMENT=production`` the API refuses to start while any of them is left in, or
the test payment provider is on (it takes no money), whatever address it listens on.

    KALEMA_API_SERVICE_TOKENS='{"<token>": "billing"}'      # token -> its scope
    KALEMA_API_ACCOUNT_TOKENS='{"<token>": "acct-42"}'      # token -> the one account it sees
    KALEMA_PAYMENTS_WEBHOOK_SECRET=whsec_...                # shared with the payment provider
    KALEMA_PAYMENTS_PROVIDER=stripe                         # test (the default) or stripe
    KALEMA_STRIPE_SECRET_KEY=sk_live_...                    # Stripe's API key
    KALEMA_STRIPE_WEBHOOK_SECRET=whsec_...                  # the Stripe endpoint's signing secret
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.settings import Settings

ServiceScope = Literal["billing", "workers", "support"]
DEV_ACCOUNT = "acct-demo"
DEV_ACCOUNT_TOKEN = "dev-token-acct-demo"
DEV_SERVICE_TOKENS: dict[str, ServiceScope] = {
    "dev-billing-token": "billing",
    "dev-workers-token": "workers",
    "dev-support-token": "support",
}
DEV_WEBHOOK_SECRET = "whsec_dev_kalema_test_mode"
DEV_TOKENS = frozenset({*DEV_SERVICE_TOKENS, DEV_ACCOUNT_TOKEN})


class ApiSettings(Settings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    api_shared_port: bool = False
    """Bind the port so that several API processes share it (``SO_REUSEPORT``): the kernel
    spreads new connections over them, and each follows the whole balances topic, so any one
    can serve any account's stream. More streams than one process holds: start more."""
    api_service_tokens: dict[SecretStr, ServiceScope] = Field(
        default_factory=lambda: {SecretStr(t): s for t, s in DEV_SERVICE_TOKENS.items()}
    )
    """Internal callers' tokens, each with one scope (see ``services.api.auth``)."""
    api_account_tokens: dict[SecretStr, str] = Field(
        default_factory=lambda: {SecretStr(DEV_ACCOUNT_TOKEN): DEV_ACCOUNT}
    )
    api_demo_account: str = DEV_ACCOUNT

    api_ledger_timeout_s: float = Field(10.0, gt=0)
    """How long a command over HTTP waits for its outcome before answering 504."""
    api_recent_activity: int = Field(10, ge=0)
    """History entries in the details view."""
    api_stream_heartbeat_s: float = Field(15.0, gt=0)
    """An open stream (balance or alerts) sends a comment line this often while nothing changes,
    so that proxies keep the quiet connection open. Nothing else runs for an idle stream."""
    api_stream_recent_accounts: int = Field(10_000, gt=0)
    """Latest balances remembered from the topic, for streams that open while the read model
    has not yet committed what the projector already published."""
    api_shutdown_grace_s: int = Field(3, ge=1)
    """On shutdown, open streams are cut after this long."""

    api_max_body_bytes: int = Field(16_384, gt=0)
    """A request body larger than this is refused (413) before anything else is looked at."""
    api_streams_per_token: int = Field(8, gt=0)
    """Open balance streams one token may hold at once (429 beyond)."""
    api_commands_per_account_per_s: float = Field(5.0, gt=0)
    """Commands over HTTP per account, sustained (429 with Retry-After beyond)."""
    api_commands_burst: int = Field(20, gt=0)
    """Commands per account allowed in a burst before the sustained rate applies."""
    api_idempotency_keys: int = Field(100_000, gt=0)
    """Idempotency keys remembered in memory, when no durable key store is open (tests)."""
    api_idempotency_key_ttl_h: int = Field(24 * 30, gt=0)
    """How long a key's fingerprint is kept in the store (then the key may name a new request;
    a retry of its first command is still answered as a repeat by the ledger)."""

    payments_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    """The secret the payment provider signs its webhooks with."""
    payments_quote_key: SecretStr | None = None
    """The key a checkout's quote (the offer it was opened at, in the provider's metadata) is
    signed with; unset, the webhook secret. Its own key lets the webhook secret (the test
    provider's, or one a provider rotates) change without voiding open checkouts' quotes."""
    payments_webhook_tolerance_s: int = Field(300, gt=0)
    """A webhook signed longer ago (or ahead) than this is refused: a replay."""
    payments_test_provider: bool = True
    """Serve the built-in test payment provider under ``/test-payments`` (development and
    tests only: it confirms payments without taking money)."""
    payments_provider: Literal["test", "stripe"] = "test"
    """Who takes the money: the test provider, or Stripe (``services.payments.stripe_provider``,
    webhooks at ``POST /payments/stripe/webhook``)."""
    payments_return_base_url: str = "http://127.0.0.1:8000"
    """Where the provider sends the payer back to: the page's public address."""
    stripe_secret_key: SecretStr | None = None
    """Stripe's secret API key (``sk_test_...`` in test mode, ``sk_live_...`` in live mode)."""
    stripe_webhook_secret: SecretStr | None = None
    """The signing secret of the Stripe webhook endpoint (``whsec_...``)."""
    stripe_api_base: str | None = None
    """Another address for Stripe's API: stripe-mock's in the tests; None is Stripe's own."""

    @model_validator(mode="after")
    def _stripe_has_its_keys(self) -> ApiSettings:
        if self.payments_provider == "stripe" and not (
            self.stripe_secret_key and self.stripe_webhook_secret
        ):
            raise ValueError(
                "KALEMA_PAYMENTS_PROVIDER=stripe needs KALEMA_STRIPE_SECRET_KEY and "
                "KALEMA_STRIPE_WEBHOOK_SECRET"
            )
        return self

    def url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def quote_key(self) -> str:
        """The key checkouts' quotes are signed and read with."""
        return (self.payments_quote_key or self.payments_webhook_secret).get_secret_value()

    def page_url(self) -> str:
        """The page's address to print: with the development token if that one is configured
        (it is public, in this file), never with a real one."""
        dev = any(t.get_secret_value() == DEV_ACCOUNT_TOKEN for t in self.api_account_tokens)
        return f"{self.url()}/#token={DEV_ACCOUNT_TOKEN if dev else '<an account token>'}"

    def lab_settings(self) -> list[str]:
        """The ledger's lab settings and the API's: a built-in token or webhook secret, the
        test payment provider."""
        found = super().lab_settings()
        for name, tokens in (
            ("KALEMA_API_SERVICE_TOKENS", self.api_service_tokens),
            ("KALEMA_API_ACCOUNT_TOKENS", self.api_account_tokens),
        ):
            if any(t.get_secret_value() in DEV_TOKENS for t in tokens):
                found.append(f"{name} holds a built-in development token")
        if self.payments_webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            found.append("KALEMA_PAYMENTS_WEBHOOK_SECRET is the built-in development secret")
        if self.quote_key() == DEV_WEBHOOK_SECRET:
            found.append("KALEMA_PAYMENTS_QUOTE_KEY is unset or the built-in development secret")
        if self.payments_provider == "test" and self.payments_test_provider:
            found.append(
                "KALEMA_PAYMENTS_TEST_PROVIDER is on (its pay button confirms payments without "
                "taking money)"
            )
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if self.payments_provider == "stripe" and not key.startswith(("sk_live_", "rk_live_")):
            found.append("KALEMA_STRIPE_SECRET_KEY is not a live-mode key (sk_live_ or rk_live_)")
        return found
