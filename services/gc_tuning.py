"""The cyclic garbage collector, set for a long-running ledger, projector or API.

A full collection (the oldest generation) scans every object the collector tracks. With many
accounts cached, those pauses are long and frequent enough to be the ledger's and the
projector's tail latency, and the API's with thousands of open balance streams (see
BENCHMARKS.md). What these processes hold (account states, balance rows, streams) is freed by
reference counting when it is replaced, and cycles among it are rare, so:

- what exists once the process has started (modules, settings, clients) is frozen: never
  scanned again;
- a full collection waits for ``FULL_AFTER`` collections of the middle generation instead of
  Python's 10. Young cycles are still collected as often as ever.
"""

from __future__ import annotations

import gc

FULL_AFTER = 1000


def settle_for_a_long_run() -> None:
    """Freeze what the start-up made, and make full collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
