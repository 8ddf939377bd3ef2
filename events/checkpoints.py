"""Chain-head checkpoints: where each account's hash chain had reached, kept outside the
database (the ``chain-heads`` topic), so that someone who can write the database cannot shorten
a stream or delete an account unseen (``credits verify --checkpoints``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ChainHead(BaseModel):
    """The account's stream had reached ``version``, whose event's chain hash is ``head``.
    Published by the ledger after each committed batch, for every account the batch changed.
    When the chain is keyed, ``signature`` is HMAC-SHA256 under the chain key ``key_id``
    (``services.ledger.chain.head_signature``); unkeyed, both are empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = "ChainHead"
    account_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=1)
    head: str = Field(max_length=200)
    key_id: str = ""
    signature: str = ""
