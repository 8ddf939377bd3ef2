"""Tamper evidence: every stored event carries a SHA-256 hash chained to the previous event of
its account's stream. Editing, deleting or reordering a stored event breaks the chain."""

from __future__ import annotations

import hashlib

GENESIS = ""


def link(previous: str, account_id: str, version: int, payload: bytes) -> str:
    """The hash of one stored event: its stream, its place, its exact bytes, and its past."""
    digest = hashlib.sha256()
    digest.update(f"{previous}|{account_id}|{version}|".encode())
    digest.update(payload)
    return digest.hexdigest()
