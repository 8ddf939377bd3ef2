"""Following the ledger's notification log: pages of whole commands, and a wake-up when the
ledger stores more (LISTEN/NOTIFY on PostgreSQL, polling on SQLite; README, Design: following
the log)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from projections.batch import whole_commands
from services.ledger.store import LedgerStore, gc_paused
from services.ledger.upcasting import Recorded, recorded

log = logging.getLogger("kalema.projector")


class UnreadableEvent(RuntimeError):
    """A stored event cannot be decoded. Skipping it would corrupt every balance after it."""


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[tuple[int, Recorded]]  # (notification id, event), in log order
    full: bool  # more may be waiting right after it

    @property
    def last_id(self) -> int:
        return self.items[-1][0]


class LogReader:
    def __init__(self, ledger: LedgerStore, page_size: int) -> None:
        self.ledger = ledger
        self.page_size = page_size

    def read(self, after: int) -> Page:
        """The next page of whole commands after notification ``after``."""
        with gc_paused():  # a page's events are acyclic: reference counting frees them
            return self._read(after)

    def _read(self, after: int) -> Page:
        rows = self.ledger.log_rows(after, self.page_size)
        items = []
        for notification_id, account_id, version, topic, state in rows:
            try:
                event = recorded(account_id, version, topic, state, notification_id)
            except Exception as error:
                raise UnreadableEvent(
                    f"stored event {notification_id} ({account_id} version {version}, "
                    f"{topic}) cannot be read: {error}. The projector stops here rather "
                    "than skip it."
                ) from error
            items.append((notification_id, event))
        full = len(rows) == self.page_size
        kept = whole_commands(items, full, lambda i: (i[1].originator_id, i[1].event.command_id))
        return Page(kept, full)


class Wakeup:
    """Sets ``event`` whenever the ledger may have stored events (PostgreSQL only)."""

    def __init__(self, ledger: LedgerStore, event: asyncio.Event) -> None:
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        recorder = ledger.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._listen, args=(recorder, loop, event), name="projector-listen"
            )
            self._thread.start()

    def _listen(
        self,
        recorder: PostgresApplicationRecorder,
        loop: asyncio.AbstractEventLoop,
        event: asyncio.Event,
    ) -> None:
        while not self._stopped.is_set():
            try:
                with recorder.datastore.get_connection() as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
                    try:
                        loop.call_soon_threadsafe(event.set)  # what was stored before we listened
                        while not self._stopped.is_set():
                            for _ in conn.notifies(timeout=0.1, stop_after=1):
                                loop.call_soon_threadsafe(event.set)
                    finally:
                        conn.execute("UNLISTEN *")
            except Exception:
                if self._stopped.is_set():
                    return
                log.exception("LISTEN failed; polling until it is back")
                self._stopped.wait(1.0)

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
