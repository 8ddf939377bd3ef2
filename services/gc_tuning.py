"""The cyclic garbage collector, set for a long-running ledger, projector or API.

A full collection (the oldest generation) scans every object the collector tracks. With many
accounts cached, those pauses are long and frequent enough to be the ledger's and the
projector's tail latency, and the API's with thousands of open balance streams (see
BENCHMARKS.md). What these processes hold (account states, balance rows, streams) is freed by
reference counting when it is replaced, and cycles among it are rare, so:

- what exists once the process has started (modules, settings, clients) is frozen: never
  scanned again;
- a full collection waits for ``FULL_AFTER`` collections of the middle generation instead of
  Python's 10. Young cycles are still collected as often as ever;
- what a ledger's batch or a projector's page leaves behind (the states and rows it cached)
  is frozen as the batch ends (``batch_survivors_frozen``), rather than scanned by the young
  collection that re-enabling the collector set off, and again by the middle one. Every
  ``THAW_AFTER_S`` (an hour) everything is thawed and collected once, so a cycle that was
  frozen with them is freed then.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("kalema.gc")

FULL_AFTER = 1000
# A thaw is a full collection of the whole heap: 186-317 ms in the end-to-end benchmark (10,000
# accounts), and it freed 12 or 13 objects after 45 s of load. Once an hour bounds that leak to
# about a thousand objects and puts a pause that long once in 3,600 seconds.
THAW_AFTER_S = 3600.0


def settle_for_a_long_run() -> None:
    """Freeze what the start-up made, and make full collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)


class Thaw:
    """Called after each batch: once every ``every_s``, thaws what was frozen and collects it
    all (a full collection, logged with what it freed and how long it took)."""

    def __init__(self, every_s: float = THAW_AFTER_S, clock: Callable[[], float] = time.monotonic):
        self.every_s = every_s
        self.clock = clock
        self.last = clock()
        self.thawed = 0

    def __call__(self) -> None:
        """Thaw and collect everything when due (a full collection, once a period)."""
        if self.clock() - self.last < self.every_s:
            return
        began = time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()
        self.last = self.clock()
        self.thawed += 1
        took_ms = (time.perf_counter() - began) * 1000
        log.info("thawed and collected: %d objects freed in %.0f ms", freed, took_ms)


@contextmanager
def batch_survivors_frozen(thaw: Thaw) -> Iterator[None]:
    """A batch's (or a page's) work with the collector paused; what it leaves alive is then
    frozen rather than scanned.

    A batch allocates many acyclic objects: reference counting frees the temporary ones as it
    returns, and those it keeps (cached states, rows) were scanned by the young collection
    that the first allocation after it set off, then again by the middle one: 5 to 9 % of the
    ledger's and the projector's CPU in the end-to-end profile (BENCHMARKS.md, issue 26).
    Freezing costs nothing per object. What is frozen and later replaced is still freed by
    reference counting; only a cycle frozen with it waits for ``thaw``."""
    if not gc.isenabled():  # inside another pause: the outer one decides
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        thaw()
        gc.enable()
