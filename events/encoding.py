"""Models written as JSON by msgspec's encoder, byte for byte what ``model_dump_json`` writes.

The ledger writes JSON for every event it stores and every outcome it publishes; pydantic's
serializer walks each model's schema and costs about three times msgspec's encoder, which
writes a model's ``__dict__`` as it is. The two agree for the models that are written this
way (events, outcomes, dead letters): fields in their declared order (validated and trusted
models both hold them so), no aliases, no custom serializers, times as RFC 3339 with ``Z`` for
UTC. The contract tests hold them to it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel


def _fields(model: Any) -> dict[str, Any]:
    if isinstance(model, BaseModel):
        return model.__dict__
    raise NotImplementedError(f"cannot write {type(model).__name__} as JSON")


_ENCODER = msgspec.json.Encoder(enc_hook=_fields)


def json_of(model: BaseModel) -> bytes:
    """The model's JSON, as ``model_dump_json().encode()`` writes it. ``ValueError`` if it
    cannot be written (text that is not valid Unicode, as pydantic's)."""
    try:
        return _ENCODER.encode(model)
    except (msgspec.EncodeError, UnicodeEncodeError) as error:
        raise ValueError(str(error)) from error
