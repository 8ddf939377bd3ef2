"""Settings of the top-up process: the ledger's (the same store and topics), the payment
provider's, read from the same variables as the API's (``KALEMA_PAYMENTS_PROVIDER``,
``KALEMA_PAYMENTS_QUOTE_KEY`` or ``KALEMA_PAYMENTS_WEBHOOK_SECRET``, ``KALEMA_STRIPE_*``), and
its own knobs. The only place the process reads the environment; prefix ``KALEMA_``."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.settings import Settings

DEV_WEBHOOK_SECRET = "whsec_dev_kalema_test_mode"  # the API's development secret, the same


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class TopUpSettings(Settings):
    payments_provider: Literal["test", "stripe"] = "test"
    """Who takes the money: the API's test provider (reached at ``topup_test_provider_url``)
    or Stripe."""
    payments_webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    payments_quote_key: SecretStr | None = None
    """The key a top-up's price is signed with, as a checkout's quote (the webhook secret when
    unset), so the webhook reads it as the API does."""
    stripe_secret_key: SecretStr | None = None
    stripe_api_base: str | None = None
    topup_test_provider_url: str = "http://127.0.0.1:8000"
    """The API that serves the test provider (``make run``'s)."""
    topup_lease_ttl_s: float = Field(10.0, gt=0)
    """A dead top-up process's lease runs out after this; a standby then takes over."""
    topup_page_events: int = Field(1000, gt=0)
    """Stored events read from the ledger's log per page."""
    topup_poll_s: float = Field(0.2, gt=0)
    """How long an idle process waits before reading the log again."""
    topup_retry_s: float = Field(5.0, gt=0)
    """A charge the provider did not answer (not a decline) is asked again this much later,
    with the same idempotency key."""
    topup_concurrent_charges: int = Field(16, gt=0)
    """Charges asked of the provider at once."""
    topup_holder: str = Field(default_factory=_default_holder)
    """Who holds the lease (host:pid by default), as the lease table shows it."""

    @model_validator(mode="after")
    def _stripe_has_its_key(self) -> TopUpSettings:
        if self.payments_provider == "stripe" and not self.stripe_secret_key:
            raise ValueError("KALEMA_PAYMENTS_PROVIDER=stripe needs KALEMA_STRIPE_SECRET_KEY")
        return self

    def quote_key(self) -> str:
        return (self.payments_quote_key or self.payments_webhook_secret).get_secret_value()

    def lab_settings(self) -> list[str]:
        """The ledger's lab settings, and charging through the test provider (no money
        moves) or with Stripe's test keys."""
        found = super().lab_settings()
        if self.payments_provider == "test":
            found.append("KALEMA_PAYMENTS_PROVIDER is test (top-ups charge nothing)")
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if self.payments_provider == "stripe" and not key.startswith(("sk_live_", "rk_live_")):
            found.append("KALEMA_STRIPE_SECRET_KEY is not a live-mode key (sk_live_ or rk_live_)")
        if self.quote_key() == DEV_WEBHOOK_SECRET:
            found.append("KALEMA_PAYMENTS_QUOTE_KEY is unset and the webhook secret is built in")
        return found
