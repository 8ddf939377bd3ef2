"""The ledger's chain-head checkpoints (``events.checkpoints``): after each committed batch,
one signed record per account the batch changed, on the compacted ``chain-heads`` topic. The
database holds the streams; the topic remembers how far they had come, signed with a key the
database never sees."""

from __future__ import annotations

from collections.abc import Sequence

from events.checkpoints import ChainHead
from events.encoding import json_of
from events.trusted import trusted
from services.ledger.chain import SigningKey, head_signature
from services.ledger.upcasting import Recorded
from services.publish import Message


def heads(recorded: Sequence[Recorded], key: SigningKey | None) -> list[ChainHead]:
    """The last event of each account in ``recorded`` (a batch, in order), as checkpoints."""
    last: dict[str, Recorded] = {}
    for event in recorded:
        last[event.originator_id] = event
    return [signed(e.originator_id, e.originator_version, e.chain, key) for e in last.values()]


def signed(account_id: str, version: int, head: str, key: SigningKey | None) -> ChainHead:
    """The checkpoint, built as trusted (``events.trusted``): this runs for every account of
    every batch, and every value is the ledger's own (an account id its command's rules
    checked, a stored version, a chain hash, a key id its settings checked)."""
    key_id = signature = ""
    if key is not None:
        key_id, signature = key[0], head_signature(key, account_id, version, head)
    return trusted(
        ChainHead,
        {
            "type": "ChainHead",
            "account_id": account_id,
            "version": version,
            "head": head,
            "key_id": key_id,
            "signature": signature,
        },
    )


def messages(topic: str, checkpoints: Sequence[ChainHead]) -> list[Message]:
    """Keyed by account, so an account's checkpoints stay in order and compaction keeps its
    latest; written by msgspec (``events.encoding``), as pydantic writes them."""
    return [(topic, c.account_id.encode(), json_of(c)) for c in checkpoints]
