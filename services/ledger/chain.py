"""Tamper evidence: every stored event carries a hash chained to the previous event of its
account's stream. Editing, deleting or reordering a stored event breaks the chain.

A plain SHA-256 chain can be recomputed by anyone who can write the database, so with a chain
key configured, every new link is an HMAC-SHA256 under it instead, stored as
``hmac:<key id>:<hex>``: without the key, no one can forge a link that verifies. Each link names
its key, so keys rotate: a new key signs new links while the old ones stay in the key ring
(``KALEMA_LEDGER_CHAIN_KEYS``) to check the links they made. Links made before keys had ids
(``hmac:<hex>``) were made with ``KALEMA_LEDGER_CHAIN_KEY``, the key of id ``default``. The
keys live with the ledger and the auditors (a secret store), never in the database. Links made
before any key was configured stay plain SHA-256 and still verify; but an unkeyed link may not
follow a keyed one, nor be dated at or after ``KALEMA_LEDGER_CHAIN_KEYED_SINCE``: otherwise a
stream rewritten without the key would pass as a legacy one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

GENESIS = ""
KEYED = "hmac:"
DEFAULT_KEY_ID = "default"
KEY_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

SigningKey = tuple[str, bytes]  # the key id a link names, and the secret it was made with


def link(
    previous: str, account_id: str, version: int, payload: bytes, key: SigningKey | None = None
) -> str:
    """The hash of one stored event: its stream, its place, its exact bytes, and its past;
    keyed (``hmac:<key id>:<hex>``) when a key is given."""
    if key:
        key_id, secret = key
        return f"{KEYED}{key_id}:{_mac(secret, previous, account_id, version, payload)}"
    return hashlib.sha256(_message(previous, account_id, version, payload)).hexdigest()


def is_keyed(chain: str) -> bool:
    return chain.startswith(KEYED)


def key_id_of(chain: str) -> str | None:
    """The id of the key a keyed link names (``default`` for links made before ids), or None
    for an unkeyed link."""
    if not is_keyed(chain):
        return None
    named, colon, _ = chain.removeprefix(KEYED).rpartition(":")
    return named if colon else DEFAULT_KEY_ID


def broken(
    chain: str,
    previous: str,
    account_id: str,
    version: int,
    payload: bytes,
    keys: Mapping[str, bytes],
) -> str | None:
    """Why a stored link does not verify with the key ring ``keys`` (by id), or None if it
    does."""
    key_id = key_id_of(chain)
    if key_id is None:
        expected = link(previous, account_id, version, payload)
    elif key_id not in keys:
        if not keys:
            return "is keyed, but no chain key is configured to check it"
        return f"is keyed with key {key_id!r}, which is not in the key ring"
    else:
        mac = _mac(keys[key_id], previous, account_id, version, payload)
        named = chain.removeprefix(KEYED).count(":") > 0
        expected = f"{KEYED}{key_id}:{mac}" if named else KEYED + mac
    return (
        None if hmac.compare_digest(expected.encode(), chain.encode()) else "was altered or moved"
    )


def head_signature(key: SigningKey, account_id: str, version: int, head: str) -> str:
    """The signature of a chain-head checkpoint (``events.checkpoints``): HMAC-SHA256 under
    the chain key, over a message no link's can equal (it starts ``chain-head|``)."""
    return _hmac(key[1], f"chain-head|{account_id}|{version}|{head}".encode())


def _message(previous: str, account_id: str, version: int, payload: bytes) -> bytes:
    return f"{previous}|{account_id}|{version}|".encode() + payload


def _mac(secret: bytes, previous: str, account_id: str, version: int, payload: bytes) -> str:
    return _hmac(secret, _message(previous, account_id, version, payload))


def _hmac(secret: bytes, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``secret``, in hex."""
    mac = (_KEYED.get(secret) or _keyed(secret)).copy()
    mac.update(message)
    return mac.hexdigest()


def _keyed(secret: bytes) -> hmac.HMAC:
    """An HMAC keyed with ``secret`` and fed nothing yet: each link copies it rather than key
    a new one (a third of a link's cost, once per stored event)."""
    _KEYED[secret] = hmac.new(secret, digestmod=hashlib.sha256)
    return _KEYED[secret]


_KEYED: dict[bytes, hmac.HMAC] = {}
