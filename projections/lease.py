"""Exactly one active projector: a lease row in the read model's database.

Two projectors publishing at once could put an older balance on the compacted balances topic
after a newer one (compaction keeps the last record, not the highest version). So a projector
folds and publishes only while it holds the lease; a standby tries to take it every third of
its life and wins once the holder has stopped renewing (killed, stopped, cut off). The holder
checks the lease right before each publish: one that was stopped past its lease (a zombie)
finds it taken and stands by instead of publishing. The same row works on SQLite and
PostgreSQL; times are the projectors' wall clocks, so hosts must agree to well within the lease.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from projections.store import BalanceReadModel


class Lease:
    def __init__(self, model: BalanceReadModel, ttl_s: float) -> None:
        self.model = model
        self.ttl_s = ttl_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed = 0.0

    def take(self) -> bool:
        """Take or renew the lease; False while another live projector holds it."""
        now = time.time()
        if self.model.recorder.take_lease(self.holder, now, self.ttl_s):
            self._renewed = now
            return True
        return False

    def fresh(self) -> bool:
        """Held for certain, without asking the database (see ``keep``)."""
        return time.time() - self._renewed < self.ttl_s / 3

    def keep(self) -> bool:
        """Whether this projector still holds the lease (renewing it when a third is gone).
        Called before every publish, and by the idle loop. Within a third of its life since
        this projector took it, the lease is held without asking the database: a standby
        takes only an expired lease, and a projector stopped past that point (a zombie)
        renews, and so finds it taken. (A read per page would be a round trip on every page.)"""
        return self.fresh() or self.take()

    def release(self) -> None:
        """Give the lease up at once (a clean shutdown), so a standby need not wait it out."""
        self.model.recorder.release_lease(self.holder)
