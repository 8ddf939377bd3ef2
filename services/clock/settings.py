"""Settings of the clock: the ledger's settings (same store, same topics) and its own knobs.
The only place the clock reads the environment; prefix ``KALEMA_``."""

from __future__ import annotations

import os
import socket

from pydantic import Field

from services.settings import Settings


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ClockSettings(Settings):
    clock_lease_ttl_s: float = Field(10.0, gt=0)
    """A dead clock's lease runs out after this; a standby clock then takes over."""
    clock_rescan_s: float = Field(3600.0, gt=0)
    """A safety net: besides following the balances topic, re-read the whole read model (a
    page at a time) this often. The schedule does not depend on it."""
    clock_page_rows: int = Field(5000, gt=0)
    """Accounts read per page when the clock reads the read model; the lease is renewed
    between pages."""
    clock_holder: str = Field(default_factory=_default_holder)
    """Who holds the lease (host:pid by default), as the lease table shows it."""
