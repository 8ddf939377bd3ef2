"""``python -m projections [run|rebuild|check|lag]``: the balance projector and its tools.

run       follow the ledger's log until SIGTERM or Ctrl-C (the default)
rebuild   drop the read model and fold it anew from every stored event
check     compare the read model with the core's replay; exit 1 on any difference
lag       print how many stored events the read model has not folded yet
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from projections import maintenance, metrics
from projections.follow import UnreadableEvent
from projections.projector import Projector
from projections.settings import ProjectorSettings
from services import gc_tuning, observability
from services.going_live import refuse_lab_settings
from services.topics import ensure_topics

log = logging.getLogger("kalema.projector")


async def run(settings: ProjectorSettings) -> int:
    await ensure_topics(settings)
    projector = Projector(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    where = settings.sqlite_path if settings.event_store == "sqlite" else settings.postgres_schema
    log.info(
        "projector: %s (%s) -> %s, %s",
        settings.event_store,
        where,
        settings.topic["balances"],
        settings.topic["alerts"],
    )
    metrics.track(projector)
    probes = observability.Probes(
        kafka=observability.kafka_answers(settings),
        store=observability.store_answers(projector.ledger),
    )
    try:
        async with observability.serving(
            settings.metrics_host, settings.projector_metrics_port, probes
        ):
            await projector.run(stop)
    except UnreadableEvent as error:
        log.error("stopped: %s", error)
        return 2
    finally:
        projector.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m projections", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "rebuild", "check", "lag"]
    )
    command = parser.parse_args(argv).command
    settings = ProjectorSettings()
    observability.configure_logging(settings)
    refuse_lab_settings(settings)
    if command == "run":
        gc_tuning.settle_for_a_long_run()
        return asyncio.run(run(settings))
    if command == "rebuild":
        accounts, position = maintenance.rebuild(settings)
        print(f"rebuilt {accounts} accounts up to notification {position}")
        return 0
    if command == "check":
        position, differences = maintenance.check(settings)
        for difference in differences:
            print(difference)
        verdict = f"{len(differences)} differences" if differences else "read model agrees"
        print(f"{verdict} with the core's replay up to notification {position}")
        return 1 if differences else 0
    print(maintenance.lag(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
