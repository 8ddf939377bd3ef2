"""The top-up fault run reads the streams while restarted services may still be creating the
store's tables: a store that fails to open once is opened again, as the services' own is."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import top_up_faults
from services import startup
from services.settings import Settings


class _Store:
    def __init__(self, settings: Settings) -> None:
        pass

    def stream(self, account_id: str) -> list[object]:
        return []

    def close(self) -> None:
        pass


def test_the_streams_are_read_when_the_store_fails_to_open_once_as_another_creates_its_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # PostgreSQL's answer when two sessions create the same tables at once (CI, a restarted
    # ledger beside this reader): "tuple concurrently updated".
    failures = [RuntimeError("tuple concurrently updated")]

    def opening(settings: Settings) -> _Store:
        if failures:
            raise failures.pop()
        return _Store(settings)

    monkeypatch.setattr(top_up_faults, "LedgerStore", opening)
    monkeypatch.setattr(startup.time, "sleep", lambda _: None)

    found = top_up_faults.streams(Settings(sqlite_path=tmp_path / "ledger.sqlite"), 2)

    assert found == {"acct-0": [], "acct-1": []}
    assert not failures
