"""The cyclic garbage collector, set for a long-running ledger or projector.

A full collection (the oldest generation) scans every object the collector tracks. With
10,000 accounts cached, the ledger's took 55-67 ms and the projector's up to 112 ms, 18 and 10
of them in a one-minute benchmark run, and they were the p99 at 2,000 commands/s
(BENCHMARKS.md, issue 15). What these processes hold (account states, balance rows) is freed
by reference counting when it is replaced, and cycles among it are rare, so:

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
