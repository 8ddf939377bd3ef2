"""Settings of the balance projector: the ledger's settings (same event store, same topics) and
its own knobs. The only place the projector reads the environment; prefix ``KALEMA_``."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from projections.alerts import AlertRules
from services.settings import Settings


class ProjectorSettings(Settings):
    projector_poll_interval_ms: int = Field(10, gt=0)
    """How often the SQLite log is polled. PostgreSQL wakes the projector by LISTEN/NOTIFY and
    is polled only every ``projector_safety_poll_ms`` in case a notification is missed."""
    projector_safety_poll_ms: int = Field(1000, gt=0)
    projector_batch_max_events: int = Field(10_000, gt=0)
    """The most events one page reads: a page takes a whole batch of the ledger's
    (``ledger_batch_max_records`` commands, an event or two each), so the page's fixed cost
    (a read, a commit, a round of acknowledgements) is shared as the ledger's batch shares
    its own, and a projector behind the log catches up in pages that large."""
    projector_cache_accounts: int = Field(50_000, gt=0)
    projector_retry_delay_ms: int = Field(1000, ge=0)
    projector_lease_ms: int = Field(10_000, gt=0)
    """One projector is active: a standby takes over this long after the active one stopped
    renewing its lease (killed, stopped, cut off from the database)."""

    alert_low_balance_credits: int = Field(50, ge=0)
    alert_low_balance_percent: int = Field(10, ge=0, le=100)
    alert_expiring_within_hours: int = Field(72, ge=0)

    def alert_rules(self) -> AlertRules:
        return AlertRules(
            low_balance_credits=self.alert_low_balance_credits,
            low_balance_percent=self.alert_low_balance_percent,
            expiring_within=timedelta(hours=self.alert_expiring_within_hours),
        )

    def poll_interval_s(self) -> float:
        ms = self.projector_poll_interval_ms
        return (ms if self.event_store == "sqlite" else self.projector_safety_poll_ms) / 1000
