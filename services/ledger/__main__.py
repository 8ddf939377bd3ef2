"""``python -m services.ledger``: run the ledger service until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging

from faststream import FastStream

from services.ledger.catalog_file import load_catalog
from services.ledger.consumer import LedgerConsumer
from services.ledger.service import Ledger, open_store
from services.settings import Settings
from services.topics import ensure_topics


def build(settings: Settings) -> tuple[FastStream, LedgerConsumer]:
    store = open_store(settings)
    ledger = Ledger(
        store,
        load_catalog(),
        max_message_bytes=settings.max_message_bytes,
        cache_size=settings.ledger_cache_accounts,
    )
    edge = LedgerConsumer(settings, ledger)
    app = FastStream(edge.broker)

    @app.on_startup
    async def topics_exist() -> None:
        await ensure_topics(settings)

    @app.after_shutdown
    async def close_store() -> None:
        store.close()

    return app, edge


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings()
    app, _ = build(settings)
    where = (
        settings.sqlite_path
        if settings.event_store == "sqlite"
        else settings.postgres_dsn().split("@")[-1]
    )
    logging.getLogger("kalema.ledger").info(
        "ledger: commands from %s, events in %s (%s)",
        settings.topic["commands"],
        settings.event_store,
        where,
    )
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
