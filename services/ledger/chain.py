"""Tamper evidence: every stored event carries a hash chained to the previous event of its
account's stream. Editing, deleting or reordering a stored event breaks the chain.

A plain SHA-256 chain can be recomputed by anyone who can write the database, so with
``KALEMA_LEDGER_CHAIN_KEY`` set, every new link is an HMAC-SHA256 under that key instead
(stored as ``hmac:<hex>``): without the key, no one can forge a link that verifies. The key
lives with the ledger and the auditors (a secret store), never in the database. Links made
before a key was configured stay plain SHA-256 and still verify; but an unkeyed link may not
follow a keyed one, nor be dated at or after ``KALEMA_LEDGER_CHAIN_KEYED_SINCE``: otherwise a
stream rewritten without the key would pass as a legacy one.
"""

from __future__ import annotations

import hashlib
import hmac

GENESIS = ""
KEYED = "hmac:"


def link(
    previous: str, account_id: str, version: int, payload: bytes, key: bytes | None = None
) -> str:
    """The hash of one stored event: its stream, its place, its exact bytes, and its past;
    keyed (``hmac:<hex>``) when a key is given."""
    message = f"{previous}|{account_id}|{version}|".encode() + payload
    if key:
        return KEYED + hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def is_keyed(chain: str) -> bool:
    return chain.startswith(KEYED)


def broken(
    chain: str, previous: str, account_id: str, version: int, payload: bytes, key: bytes | None
) -> str | None:
    """Why a stored link does not verify, or None if it does."""
    if is_keyed(chain) and not key:
        return "is keyed, but no chain key is configured to check it"
    expected = link(previous, account_id, version, payload, key if is_keyed(chain) else None)
    return None if hmac.compare_digest(expected, chain) else "was altered or moved"
