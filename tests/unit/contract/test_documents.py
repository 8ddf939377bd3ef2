"""The contract documents are generated from the code (``make docs``), never written by hand:
they name every topic, every command and every command's route."""

from __future__ import annotations

import json

from services.api.command_routes import ROUTES, STAMPED
from services.contracts import documents


def test_the_openapi_document_has_every_declared_command_route_with_its_body():
    openapi = json.loads(next(t for p, t in documents().items() if p.name == "openapi.json"))
    for route in ROUTES:
        operation = openapi["paths"][f"/accounts/{{account_id}}/{route.path}"]["post"]
        assert "requestBody" in operation or not route.command.model_fields.keys() - STAMPED


def test_the_asyncapi_document_names_every_topic_and_every_command():
    asyncapi = json.loads(next(t for p, t in documents().items() if p.name == "asyncapi.json"))
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {
        f"kalema.credits.{role}"
        for role in ("commands", "outcomes", "replies", "balances", "alerts", "dead-letters")
    }
    schemas = asyncapi["components"]["schemas"]
    assert {"UseTool", "BuyPackage", "CycleRenewed", "ExpireHolds", "Outcome"} <= set(schemas)
