"""MkDocs hook: the configuration reference, generated from the settings classes at build time.

Each deployable reads the environment through one pydantic-settings class; the configuration
page's marker becomes, per class, a table of its own fields as their ``KALEMA_`` variables, with
the type, the development default (secrets hidden) and the field's docstring, so the reference
cannot fall behind the code."""

from __future__ import annotations

import ast
import inspect
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from projections.settings import ProjectorSettings
from services.api.settings import ApiSettings
from services.clock.settings import ClockSettings
from services.settings import REPO, Settings
from services.topup.settings import TopUpSettings

CLASSES: tuple[tuple[type[BaseSettings], str], ...] = (
    (Settings, "Every process: Kafka, topics, the event store, logs and metrics."),
    (ProjectorSettings, "The balance projector, and the alerts it publishes."),
    (ClockSettings, "The clock that sends `ExpireHolds` when something is due."),
    (ApiSettings, "The HTTP API and the account page, tokens, payments and Stripe."),
    (TopUpSettings, "The top-up process that charges automatic top-ups, and its provider."),
)


MARKER = "<!-- the settings classes' reference, generated -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """The configuration page's marker, replaced by the reference."""
    if page.file.src_uri != "operating/configuration.md":
        return markdown
    assert MARKER in markdown, f"{page.file.src_uri} lost its marker {MARKER}"
    return markdown.replace(MARKER, reference())


def reference() -> str:
    """Per settings class, a table of its own variables."""
    lines: list[str] = []
    for cls, summary in CLASSES:
        lines += ["", f"### {cls.__name__}", "", f"`{_where(cls)}`: {summary}", ""]
        lines += ["| variable | type | default | what it does |", "|---|---|---|---|"]
        docs = _docstrings(cls)
        for name in _own_fields(cls):
            info = cls.model_fields[name]
            lines.append(
                f"| `KALEMA_{name.upper()}` | {_type(info)} | {_default(info)} | "
                f"{_cell(docs.get(name) or info.description or '')} |"
            )
    return "\n".join(lines) + "\n"


def _own_fields(cls: type[BaseSettings]) -> list[str]:
    inherited = {
        name for base in cls.__mro__[1:] for name in getattr(base, "model_fields", {}) or {}
    }
    return [name for name in cls.model_fields if name not in inherited]


def _docstrings(cls: type) -> dict[str, str]:
    """The string literal under each annotated field in the class body (as pydantic's
    ``use_attribute_docstrings`` reads them)."""
    body = ast.parse(inspect.getsource(cls)).body[0]
    assert isinstance(body, ast.ClassDef)
    found: dict[str, str] = {}
    for node, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[node.target.id] = inspect.cleandoc(following.value.value)
    return found


def _type(info: FieldInfo) -> str:
    """The annotation, its alternatives joined by "or" (a pipe would end the table cell)."""
    return " or ".join(f"`{part}`" for part in _name(info.annotation).split(" | "))


def _name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _name(typing.get_args(annotation)[0])
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_name(arg) for arg in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', origin)}[{args}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if _secret(info.annotation):
        return "(secret)"
    if info.default_factory is not None:
        return "(computed)"
    value = info.default
    if isinstance(value, Path):
        value = value.relative_to(REPO) if value.is_relative_to(REPO) else value
    return f"`{_cell(str(value))}`" if value not in ("", None) else f"`{value!r}`"


def _secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_secret(a) for a in typing.get_args(annotation))


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
