"""The projector's Prometheus metrics, read from the running projector when scraped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from projections.projector import Projector


PAGE_SECONDS = Histogram(
    "kalema_projector_page_seconds",
    "One page of the ledger's log, by stage: read (the notifications and the rows not "
    "cached), fold, lease (checked before publishing), publish (until Kafka acknowledged "
    "every balance and alert) and commit (the rows and the position)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STAGES = ("read", "fold", "lease", "publish", "commit")


def paged(*lap: float) -> None:
    """Time a committed page's stages from the clock (``perf_counter``) read at its start
    and at the end of each stage."""
    for stage, began, ended in zip(STAGES, lap[:-1], lap[1:], strict=True):
        PAGE_SECONDS.labels(stage).observe(ended - began)


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
