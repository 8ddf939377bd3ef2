"""``python -m services.topup``: charge each automatic top-up the ledger asks for, once.

One process is active at a time (a lease in the ledger's database); start more for a quick
take-over, they stand by. It charges through the API's payment provider settings.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from services import observability
from services.going_live import refuse_lab_settings
from services.topics import ensure_topics
from services.topup.charges import charges_for
from services.topup.service import TopUps
from services.topup.settings import TopUpSettings

log = logging.getLogger("kalema.topup")


async def run(settings: TopUpSettings) -> None:
    await ensure_topics(settings)
    top_ups = TopUps(settings, charges_for(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("top-ups: the ledger's log -> %s", settings.payments_provider)
    try:
        await top_ups.run(stop)
    finally:
        top_ups.close()


def main() -> None:
    settings = TopUpSettings()
    observability.configure_logging(settings)
    refuse_lab_settings(settings)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
