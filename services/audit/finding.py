"""One thing verification found wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    account_id: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.account_id}: {self.check}: {self.detail}"
