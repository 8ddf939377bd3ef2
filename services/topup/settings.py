"""Settings of the top-up process: the API's (the same store, topics and payment provider:
the test provider is reached at the API's address) and its own knobs. Prefix ``KALEMA_``."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from services.api.settings import ApiSettings


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class TopUpSettings(ApiSettings):
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
