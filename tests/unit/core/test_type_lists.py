"""Every list of types is complete: a command or event type added without its rule,
its fold, its description or its answer fails here, in milliseconds, not in production."""

from __future__ import annotations

import ast
import importlib
from datetime import UTC, datetime
from typing import get_args

from events.commands import AnyCommand
from events.ledger import DECISION_EVENTS, AnyLedgerEvent, CommandRefused, DecisionEvent
from projections import history
from services import native
from services.api.command_routes import BODIES, ROUTES, STAMPED
from tests.every_kind import every_kind

# By name: the package exports the functions ``decide`` and the like over their modules' names.
decide = importlib.import_module("services.ledger.core.decide")
state = importlib.import_module("services.ledger.core.state")

COMMAND_TYPES = get_args(get_args(AnyCommand)[0])
EVENT_TYPES = get_args(get_args(AnyLedgerEvent)[0])


def test_the_rules_decide_every_command_type():
    assert set(decide._RULES) == set(COMMAND_TYPES)


def test_the_fold_writes_down_every_event_type():
    assert set(state._FOLDS) == set(EVENT_TYPES)


def test_every_decision_event_answers_exactly_one_command_type():
    answered = set(DECISION_EVENTS) - {CommandRefused}
    assert set(decide.ANSWERS) == answered
    assert set(decide.ANSWERS.values()) == set(COMMAND_TYPES)
    assert set(get_args(DecisionEvent)) == set(DECISION_EVENTS) <= set(EVENT_TYPES)


def test_the_audit_describes_every_event_type():
    source = source_of(history.__name__, "describe")
    missing = [t.__name__ for t in EVENT_TYPES if f"case {t.__name__}()" not in source
               and f"| {t.__name__}()" not in source]  # fmt: skip
    assert missing == []


def test_the_integration_tests_every_kind_list_holds_every_command_type():
    kinds = {
        type(command) for command, _ in every_kind("acct-1", datetime(2026, 11, 1, tzinfo=UTC))
    }
    assert kinds == set(COMMAND_TYPES)


def test_the_api_declares_one_route_for_every_command_type():
    declared = [route.command for route in ROUTES]
    assert sorted(t.__name__ for t in declared) == sorted(t.__name__ for t in COMMAND_TYPES)
    assert (
        len({route.path for route in ROUTES})
        == len({route.body for route in ROUTES})
        == len(ROUTES)
    )


def test_every_api_body_is_its_command_less_the_fields_the_api_adds():
    assert {"type", "command_id", "account_id", "occurred_at"} == STAMPED
    for command, body in BODIES.items():
        assert set(body.model_fields) == set(command.model_fields) - STAMPED, body.__name__
        assert body.command is command


def source_of(module: str, function: str) -> str:
    """A function's source, read from its module's file (a compiled module has no source to
    ask ``inspect`` for: ``services/native.py``)."""
    text = native.source(module).read_text()
    found = [
        ast.get_source_segment(text, node)
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef) and node.name == function
    ]
    assert len(found) == 1 and found[0], (module, function)
    return found[0]
