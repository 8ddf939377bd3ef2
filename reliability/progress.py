"""Where the run stands: what was produced per partition, how far the ledger has stored its
positions, and how far the read model has folded. Every read survives the database being
restarted under it (a failed read answers ``None``)."""

from __future__ import annotations

import asyncio
import logging
import time

from projections.store import BalanceReadModel
from services.ledger.store import LedgerStore
from services.settings import Settings

log = logging.getLogger("kalema.reliability")
PARTITIONS = 8


class Progress:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ends: dict[int, int] = {}
        self.sent = 0
        self._store: LedgerStore | None = None
        self._model: BalanceReadModel | None = None

    def produced(self, partition: int, offset: int) -> None:
        self.ends[partition] = max(self.ends.get(partition, 0), offset + 1)
        self.sent += 1

    def positions(self) -> dict[int, int] | None:
        topic = self.settings.topic["commands"]
        try:
            if self._store is None:
                self._store = LedgerStore(self.settings)
            return {p: self._store.position(f"{topic}:{p}") or 0 for p in range(PARTITIONS)}
        except Exception:
            self.close()
            return None

    def folded(self) -> int | None:
        try:
            if self._store is None:
                self._store = LedgerStore(self.settings)
            if self._model is None:
                self._model = BalanceReadModel(self._store)
            return self._model.position()
        except Exception:
            self.close()
            return None

    def active_projector_pid(self) -> int | None:
        """The pid in the lease holder's name (``host:pid:nonce``)."""
        try:
            self.folded()
            assert self._model is not None
            holder = self._model.recorder.lease_holder()
            return None if holder is None else int(holder.split(":")[1])
        except Exception:
            return None

    def lag(self) -> int | None:
        try:
            folded = self.folded()
            assert self._store is not None and folded is not None
            return (self._store.recorder.max_notification_id() or 0) - folded
        except Exception:
            return None

    async def consumed(self) -> int:
        positions = await asyncio.to_thread(self.positions)
        return sum(positions.values()) if positions else 0

    async def ledger_recovered(self, backlog: dict[int, int], timeout_s: float) -> float | None:
        """Seconds until every partition's stored position reaches ``backlog`` (the ends
        produced before the fault): all that was waiting has been decided and stored."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            now = await asyncio.to_thread(self.positions)
            if now is not None and all(now[p] >= end for p, end in backlog.items()):
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        return None

    def stored(self) -> int | None:
        """The ledger's last notification id (every stored event has one)."""
        try:
            if self._store is None:
                self._store = LedgerStore(self.settings)
            return self._store.recorder.max_notification_id() or 0
        except Exception:
            self.close()
            return None

    async def projector_recovered(self, target: int, timeout_s: float) -> float | None:
        """Seconds until the read model has folded up to notification ``target``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            folded = await asyncio.to_thread(self.folded)
            if folded is not None and folded >= target:
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        return None

    def close(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.debug("closing the progress store failed", exc_info=True)
        self._store = self._model = None
