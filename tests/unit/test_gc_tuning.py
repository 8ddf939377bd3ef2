"""The collector set for a long run (``services.gc_tuning``)."""

from __future__ import annotations

import gc
import weakref

from services import gc_tuning


def test_a_long_running_process_no_longer_scans_what_it_made_at_start_on_every_full_pass():
    """Full collections scanned every cached account: 55-112 ms pauses, the p99 at 2,000
    commands/s (issue 15)."""
    before = gc.get_threshold()
    try:
        gc_tuning.settle_for_a_long_run()

        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == gc_tuning.FULL_AFTER
        assert gc.get_threshold()[:2] == before[:2]  # young cycles as often as ever
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_what_a_batch_keeps_is_frozen_not_scanned_by_the_next_young_collection():
    """Re-enabling the collector after a batch set off a young collection over every state
    the batch cached, then a middle one: 5-9 % of the ledger's and the projector's CPU."""
    kept: list[object] = []
    try:
        with gc_tuning.batch_survivors_frozen(gc_tuning.Thaw()):
            frozen_before = gc.get_freeze_count()
            kept += [[n] for n in range(1_000)]  # as the states a batch caches

        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + 1_000
        assert gc.get_count()[0] < 10  # nothing young is left to scan
    finally:
        gc.unfreeze()


def test_a_cycle_frozen_with_a_batch_is_freed_when_the_thaw_falls_due():
    now = [0.0]
    thaw = gc_tuning.Thaw(every_s=60.0, clock=lambda: now[0])
    try:
        with gc_tuning.batch_survivors_frozen(thaw):
            cycle = weakref.ref(_Cycle())  # garbage, but only the collector can free it
        assert cycle() is not None  # frozen: no collection scans it

        now[0] = 61.0
        with gc_tuning.batch_survivors_frozen(thaw):
            pass

        assert cycle() is None
        assert thaw.thawed == 1
    finally:
        gc.unfreeze()


def test_a_batch_inside_another_pause_leaves_the_collector_to_the_outer_one():
    gc.disable()
    try:
        with gc_tuning.batch_survivors_frozen(gc_tuning.Thaw()):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
