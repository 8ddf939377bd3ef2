"""The clock's Prometheus metrics (prometheus-client, default registry)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from services.clock.service import Clock

EXPIRIES_SENT = Counter(
    "kalema_clock_expiries_sent_total", "ExpireHolds commands the clock sent at a due instant"
)
SEND_DELAY = Histogram(
    "kalema_clock_send_delay_seconds",
    "How long after its due instant an expiry was sent (catch-up after downtime shows here)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300, 3600),
)
BACKLOG = Gauge("kalema_clock_backlog", "Accounts whose due instant has passed, not yet sent")
SCHEDULED = Gauge("kalema_clock_scheduled_accounts", "Accounts with a due instant ahead")
ACTIVE = Gauge("kalema_clock_active", "1 while this clock holds the lease, else 0")


def sent(delay_s: float) -> None:
    EXPIRIES_SENT.inc()
    SEND_DELAY.observe(max(delay_s, 0.0))


def track(clock: Clock) -> None:
    """Read the gauges from this clock whenever they are scraped."""
    BACKLOG.set_function(lambda: clock.schedule.backlog(datetime.now(UTC)))
    SCHEDULED.set_function(lambda: len(clock.schedule))
    ACTIVE.set_function(lambda: 1 if clock.active else 0)
