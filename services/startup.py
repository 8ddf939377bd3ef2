"""Opening the shared database at start, when several services create its tables at once.

``make run`` and compose start the ledger, the projector and the clock together, and each
creates the tables it needs. On PostgreSQL they take turns (``TakingTurnsToCreate`` in
``services/ledger/recorders.py``); on a fresh SQLite file the one that loses a race may find
the file locked, and either database may still be starting. Trying again a moment later
finds it up and the tables made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("kalema")


def opened(open_: Callable[[], T], what: str, attempts: int = 5, pause_s: float = 1.0) -> T:
    """``open_()``, tried up to ``attempts`` times; the last failure is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return open_()
        except Exception:
            if attempt == attempts:
                raise
            log.warning("could not open %s (attempt %d); retrying", what, attempt, exc_info=True)
            time.sleep(pause_s)
    raise AssertionError("unreachable")
