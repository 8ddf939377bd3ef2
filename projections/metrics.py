"""The projector's Prometheus metrics, read from the running projector when scraped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from projections.projector import Projector


class ProjectorMetrics(Collector):
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        p = self.projector
        yield GaugeMetricFamily(
            "kalema_projector_lag_events",
            "Events the ledger stored that the read model has not folded yet",
            value=max(0, (p.ledger.recorder.max_notification_id() or 0) - p.position),
        )
        yield GaugeMetricFamily(
            "kalema_projector_position", "The last ledger notification folded", value=p.position
        )
        yield CounterMetricFamily(
            "kalema_projector_events", "Events folded into the read model", value=p.events_projected
        )
        yield CounterMetricFamily(
            "kalema_projector_batches",
            "Pages committed to the read model",
            value=p.batches_committed,
        )


def track(projector: Projector) -> None:
    """Report this projector (the last one built, in tests that build several)."""
    global _current
    if _current is not None:
        REGISTRY.unregister(_current)
    _current = ProjectorMetrics(projector)
    REGISTRY.register(_current)


_current: ProjectorMetrics | None = None
