"""Generators of bad and odd input for the fuzz run: hypothesis strategies built from the wire
models' own fields, mutations of valid commands, random bytes, keys, headers."""

from __future__ import annotations

import json
import random
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from events.commands import COMMANDS

NAMES = [
    "solo", "business", "agency", "small", "medium", "large", "keyword_suggestions",
    "article_generation", "image_generation", "meta_description", "content_analysis",
]  # fmt: skip
ODD_TEXT = ["", " ", "\u0000", "é", "\U0001f600", "a" * 129, "x" * 5000, "../..", "'; DROP"]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 2**63, 2**70, -(2**63), 1e308, "", "NaN", [], {}, [1], {"a": 1},
    "2026-11-25T10:00:00", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "not a time",
]  # fmt: skip


def command_models() -> list[type[BaseModel]]:
    union = typing.get_args(typing.get_args(COMMANDS._type)[0])
    return [m for m in union if isinstance(m, type) and issubclass(m, BaseModel)]


def wire_commands(accounts: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Commands of every type, each field drawn from its annotation (ignoring its bounds), so
    most are near-valid: the shapes a buggy producer sends."""
    return st.one_of([_model(m, accounts) for m in command_models()])


def _model(model: type[BaseModel], accounts: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = _field(name, info.annotation, accounts)
        (required if info.is_required() or name == "type" else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def _field(name: str, annotation: Any, accounts: list[str]) -> st.SearchStrategy[Any]:
    if name == "account_id":
        return st.sampled_from(accounts) | st.text(max_size=20)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_field(name, a, accounts) for a in typing.get_args(annotation)])
    if annotation is type(None):
        return st.none()
    if annotation is int:
        return st.integers(-5, 100) | st.integers(-(2**70), 2**70)
    if annotation is datetime:
        aware = st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat())
        return aware | st.datetimes().map(lambda t: t.isoformat())
    if annotation is str:
        return st.sampled_from(NAMES) | st.from_regex(r"[A-Za-z0-9._:@/+=-]{1,40}", fullmatch=True)
    return st.from_type(annotation) if isinstance(annotation, type) else st.none()


def draw(strategy: st.SearchStrategy[Any], count: int, at: int) -> list[Any]:
    """``count`` examples of ``strategy`` (fewer if hypothesis runs out of new ones)."""
    found: list[Any] = []

    @seed(at)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    if count:
        collect()
    return found


def mutate(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    """A valid command's JSON with one to three things wrong (or, rarely, still right)."""
    body = {**body, "command_id": f"fuzz-{rng.getrandbits(48):x}"}
    for _ in range(rng.randint(1, 3)):
        names = list(body)
        roll = rng.random()
        if roll < 0.2 and names:
            body.pop(rng.choice(names))
        elif roll < 0.6 and names:
            body[rng.choice(names)] = rng.choice(ODD_VALUES + ODD_TEXT)
        elif roll < 0.7:
            body["type"] = rng.choice(["MintCredits", "usetool", "", None, 7])
        elif roll < 0.8:
            body[rng.choice(["extra", "__proto__", "units "])] = rng.choice(ODD_VALUES)
        elif roll < 0.9 and names:
            name = rng.choice(names)
            body[name] = {"nested": body.get(name)}
        else:
            body["occurred_at"] = rng.choice(ODD_VALUES[-4:])
    return body


def key_for(rng: random.Random, body: Any) -> bytes | None:
    """Mostly the command's own account, as a producer would; sometimes not."""
    account = body.get("account_id") if isinstance(body, dict) else None
    if isinstance(account, str) and rng.random() < 0.85:
        return account.encode()
    return odd_key(rng)


def odd_key(rng: random.Random) -> bytes | None:
    return rng.choice([None, b"", b"acct-x", b"\xff\xfe", b"k" * 2000, rng.randbytes(16)])


def odd_bytes(rng: random.Random) -> bytes:
    choice = rng.randrange(8)
    if choice == 0:
        return rng.randbytes(rng.randint(0, 2000))
    if choice == 1:
        return b""
    if choice == 2:
        return b"[" * 100_000  # deeper than any parser's recursion
    if choice == 3:
        return json.dumps(rng.choice(ODD_VALUES)).encode()
    if choice == 4:
        return b'{"type": "UseTool", "units": 1e999999, "command_id": "c"}'
    if choice == 5:
        return '{"command_id": "\ud800"}'.encode("utf-8", "surrogatepass")
    if choice == 6:
        return b'{"command_id": "dup", "command_id": "dup2", "account_id": "acct-x"}'
    return b"\x00" * rng.randint(1, 64)


def odd_headers(rng: random.Random) -> tuple[tuple[str, bytes | None], ...]:
    return rng.choice(
        [
            (("trace", None),),
            (("", b""),),
            (("bin", rng.randbytes(32)),),
            tuple((f"h{n}", b"v") for n in range(100)),
            (("long", b"v" * 20_000),),
            (("content-type", b"application/json"), ("content-type", None)),
            (  # a reply asked for in garbage: the outcome goes to the outcomes topic
                ("kafka_replyTopic", rng.randbytes(8)),
                ("kafka_replyPartition", rng.randbytes(rng.choice([0, 3, 4, 5]))),
                ("kafka_correlationId", rng.randbytes(6)),
            ),
            (("kafka_replyPartition", b"\x7f\xff\xff\xff"), ("kafka_replyTopic", None)),
        ]
    )
