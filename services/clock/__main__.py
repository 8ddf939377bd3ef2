"""``python -m services.clock``: send the ledger each account's expiries at their instant.

One clock is active at a time (a lease in the ledger's database); start more for a quick
take-over, they stand by. Metrics and health on ``KALEMA_CLOCK_METRICS_PORT``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from services import observability
from services.clock.service import Clock
from services.clock.settings import ClockSettings
from services.going_live import refuse_lab_settings
from services.topics import ensure_topics

log = logging.getLogger("kalema.clock")


async def run(settings: ClockSettings) -> None:
    await ensure_topics(settings)
    clock = Clock(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    probes = observability.Probes(
        kafka=observability.kafka_answers(settings), store=observability.store_answers(clock.store)
    )
    log.info("clock: %s -> %s", settings.topic["balances"], settings.topic["commands"])
    async with observability.serving(settings.metrics_host, settings.clock_metrics_port, probes):
        try:
            await clock.run(stop)
        finally:
            clock.close()


def main() -> None:
    settings = ClockSettings()
    observability.configure_logging(settings)
    refuse_lab_settings(settings)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
