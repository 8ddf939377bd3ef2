"""``python -m services.ledger``: run the ledger service until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from faststream import FastStream

from services import gc_tuning, observability
from services.going_live import refuse_lab_settings
from services.ledger.catalog_file import load_catalog
from services.ledger.consumer import LedgerConsumer
from services.ledger.ledger import Ledger
from services.ledger.store import LedgerStore
from services.settings import Settings
from services.startup import opened
from services.topics import ensure_topics


def build(settings: Settings) -> tuple[FastStream, LedgerConsumer]:
    store = opened(lambda: LedgerStore(settings), "the event store")  # others may create it too
    ledger = Ledger(
        store,
        load_catalog(),
        max_message_bytes=settings.max_message_bytes,
        cache_size=settings.ledger_cache_accounts,
        max_clock_skew_s=settings.ledger_max_clock_skew_s,
    )
    edge = LedgerConsumer(settings, ledger)
    app = FastStream(edge.broker, logger=logging.getLogger("kalema.ledger"))

    @app.on_startup
    async def topics_exist() -> None:
        await ensure_topics(settings)

    @app.after_shutdown
    async def close_store() -> None:
        await edge.close()
        store.close()

    return app, edge


async def serve(settings: Settings, app: FastStream, edge: LedgerConsumer) -> None:
    """The ledger, with /metrics and /health beside it (ready when Kafka and the store answer)."""
    probes = observability.Probes(
        kafka=lambda: edge.broker.ping(timeout=2.0),
        # The ledger takes any ``Store``; the one ``build`` gave it is the real one.
        store=observability.store_answers(cast(LedgerStore, edge.ledger.store)),
    )
    async with observability.serving(settings.metrics_host, settings.ledger_metrics_port, probes):
        await app.run()


def main() -> None:
    settings = Settings()
    observability.configure_logging(settings)
    refuse_lab_settings(settings)
    app, edge = build(settings)
    where = settings.sqlite_path if settings.event_store == "sqlite" else settings.postgres_where()
    logging.getLogger("kalema.ledger").info(
        "ledger: commands from %s, events in %s (%s)",
        settings.topic["commands"],
        settings.event_store,
        where,
    )
    gc_tuning.settle_for_a_long_run()
    asyncio.run(serve(settings, app, edge))


if __name__ == "__main__":
    main()
