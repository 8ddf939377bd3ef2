"""The committed contract documents are what the code generates: a change to a command, an
event, a read-model message or a route must come with ``make docs``."""

from __future__ import annotations

import json

from services.contracts import documents


def test_the_committed_asyncapi_and_openapi_documents_are_current():
    for path, text in documents().items():
        assert path.exists(), f"{path.name} is missing: run make docs"
        assert path.read_text() == text, f"{path.name} is out of date: run make docs"


def test_the_asyncapi_document_names_every_topic_and_every_command():
    asyncapi = json.loads(next(t for p, t in documents().items() if p.name == "asyncapi.json"))
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {
        f"kalema.credits.{role}"
        for role in ("commands", "outcomes", "replies", "balances", "alerts", "dead-letters")
    }
    schemas = asyncapi["components"]["schemas"]
    assert {"UseTool", "BuyPackage", "CycleRenewed", "ExpireHolds", "Outcome"} <= set(schemas)
