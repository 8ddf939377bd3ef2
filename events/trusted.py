"""Models built from values the code itself made, not read from outside.

Pydantic validates every field on construction, which is most of what building an outcome or a
balance message costs. Where every value was made by typed code (mypy checks it) or has already
been checked by the wire's rules, ``trusted`` builds the model as ``model_construct`` does, less
its bookkeeping per field. Never for input: that is what the models' validation is for.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def trusted(model: type[M], values: dict[str, Any], given: set[str] | None = None) -> M:
    """``model`` holding ``values``: every one of its fields, in its order, already of its type
    (``given``: the fields the sender named, when they were read from a message)."""
    built = model.__new__(model)
    object.__setattr__(built, "__dict__", values)
    object.__setattr__(built, "__pydantic_fields_set__", set(values) if given is None else given)
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built
