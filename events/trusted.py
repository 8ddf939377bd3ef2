"""Models built from values the code itself made, not read from outside.

Pydantic validates every field on construction, which is most of what building an outcome, a
balance message or an event the rules decided costs. Where every value was made by typed code
(mypy checks it) or has already been checked by the wire's rules, ``trusted`` builds the model
as ``model_construct`` does, less its bookkeeping per field, and ``made`` fills in the model's
defaults first. Never for input: that is what the models' validation is for.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)

# The slots every model has, set through their descriptors: a third of ``object.__setattr__``.
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_new = object.__new__
_FIELDS: dict[type[BaseModel], tuple[tuple[str, bool, Callable[[], Any]], ...]] = {}


def trusted(model: type[M], values: dict[str, Any], given: set[str] | None = None) -> M:
    """``model`` holding ``values``: every one of its fields, in its order, already of its type
    (``given``: the fields the sender named, when they were read from a message)."""
    built = _new(model)
    _SET_DICT(built, values)
    if given is None:
        given = _ALL_SET.get(model) or _all_set(model, values)
    _SET_FIELDS_SET(built, given)
    _SET_EXTRA(built, None)
    _SET_PRIVATE(built, None)
    return built


def read(model: type[M], values: dict[str, Any], left_out: Collection[str]) -> M:
    """``model`` holding ``values`` as read from a message that left out the fields in
    ``left_out`` (each holding the model's default, and not counted as named), as ``trusted``
    builds it."""
    if not left_out:  # every field named: the model's one shared set of them
        return trusted(model, values)
    return trusted(model, values, values.keys() - left_out)


def _all_set(model: type[BaseModel], values: dict[str, Any]) -> set[str]:
    """Every field named: one set shared by all of a frozen model's trusted instances (nothing
    adds to a frozen model's set; a copy gets its own), a new one for any other model's."""
    fields = set(values)
    if model.model_config.get("frozen") and fields == set(model.model_fields):
        _ALL_SET[model] = fields
    return fields


_ALL_SET: dict[type[BaseModel], set[str]] = {}


def made(model: type[M], /, **values: Any) -> M:
    """``model`` holding ``values`` and its defaults for the fields not named, in its fields'
    order (the order its JSON is written in), not validated: each value must already be of its
    field's type and within its bounds. A required field left out raises ``KeyError``."""
    fields = _FIELDS.get(model) or _fields_of(model)
    assert values.keys() <= _NAMES[model], values.keys() - _NAMES[model]
    return trusted(
        model,
        {
            name: values[name] if required or name in values else default()
            for name, required, default in fields
        },
    )


_NAMES: dict[type[BaseModel], frozenset[str]] = {}


def _fields_of(model: type[BaseModel]) -> tuple[tuple[str, bool, Callable[[], Any]], ...]:
    """Each field's name, whether it is required, and what makes its default (a fresh one
    each time for a default factory's)."""
    fields = tuple(
        (name, field.is_required(), _default_of(field))
        for name, field in model.model_fields.items()
    )
    _FIELDS[model], _NAMES[model] = fields, frozenset(model.model_fields)
    return fields


def _default_of(field: FieldInfo) -> Callable[[], Any]:
    if field.default_factory is not None:
        return field.default_factory  # type: ignore[return-value]
    default = field.default
    return lambda: default
