"""The wire contracts as documents: ``docs/asyncapi.json`` (the Kafka topics, by FastStream's
AsyncAPI generator) and ``docs/openapi.json`` (the HTTP API, by FastAPI).

``python -m services.contracts`` (``make docs``) writes both. They are build output, not
committed (git-ignored): a document generated from the declarations cannot fall behind them,
and a new command does not touch them by hand. ``tests/unit/contract/test_documents.py``
checks what they hold.

The AsyncAPI document is generated from a FastStream broker that declares each service's side
of every topic with the pydantic models that are the contract (``events/``): the ledger's
subscriber on commands and its publishers, the projector's and the clock's publishers. The
running services are not asked: the ledger reads raw records to judge bad bytes itself, and
the projector and clock use aiokafka directly, so their handlers carry no schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from faststream.specification import AsyncAPI

from events.balances import BalanceAlert, BalanceUpdated
from events.commands import AnyCommand, ExpireHolds
from events.outcomes import DeadLetter, Outcome
from services import kafka_clients
from services.settings import REPO, Settings

DOCS = REPO / "docs"
VERSION = "1"


def asyncapi(settings: Settings) -> dict[str, Any]:
    broker = kafka_clients.broker(settings)  # declared, never connected
    topic = settings.topic

    @broker.subscriber(
        topic["commands"],
        group_id=settings.ledger_group_id,
        title="ledger:commands",
        description="The ledger decides every command, in order per account (key account_id).",
    )
    async def decide(command: AnyCommand) -> None:  # pragma: no cover - never run
        """Decide a command against its account's stream."""

    for role, model, title, description in (
        ("outcomes", Outcome, "ledger:outcomes", "One outcome per command, key account_id."),
        (
            "replies",
            Outcome,
            "ledger:replies",
            "The outcome of a command whose kafka_replyTopic and kafka_replyPartition headers "
            "named this topic and an existing partition (instead of the outcomes topic); "
            "kafka_correlationId echoes the command_id.",
        ),
        ("dead-letters", DeadLetter, "ledger:dead-letters", "Unreadable input, with the reason."),
        ("balances", BalanceUpdated, "projector:balances", "Latest balance, compacted by key."),
        ("alerts", BalanceAlert, "projector:alerts", "Low balance, depleted, expiring soon."),
        ("commands", ExpireHolds, "clock:commands", "At a due instant: record what expired."),
    ):
        broker.publisher(topic[role], title=title, description=description, schema=model)
    spec = AsyncAPI(
        broker,
        title="Kalema Credits",
        version=VERSION,
        description="Commands in, outcomes, balances and alerts out; every message keyed by "
        "account_id.",
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def openapi(settings: Settings) -> dict[str, Any]:
    from services.api.app import create_app
    from services.api.settings import ApiSettings

    return create_app(ApiSettings(**settings.model_dump())).openapi()


def documents() -> dict[Path, str]:
    """Each document's path and its text, as the code generates them (default settings)."""
    settings = Settings.model_construct()  # the defaults, whatever the environment says
    return {
        DOCS / "asyncapi.json": json.dumps(asyncapi(settings), indent=2, sort_keys=True) + "\n",
        DOCS / "openapi.json": json.dumps(openapi(settings), indent=2, sort_keys=True) + "\n",
    }


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    for path, text in documents().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
