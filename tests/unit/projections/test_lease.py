"""The projector's lease, against a recorder that counts what it is asked."""

from __future__ import annotations

from typing import Any

from projections.lease import Lease


class _Recorder:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.holder: str | None = None

    def take_lease(self, holder: str, now: float, ttl_s: float) -> bool:
        self.asked.append("take")
        if self.holder in (None, holder):
            self.holder = holder
            return True
        return False

    def lease_holder(self) -> str | None:
        self.asked.append("holder")
        return self.holder


class _Model:
    def __init__(self) -> None:
        self.recorder = _Recorder()


def test_a_lease_taken_moments_ago_is_kept_without_a_round_trip_per_page():
    """Checking the lease read its row before every page's publish: a round trip a page."""
    model: Any = _Model()
    lease = Lease(model, ttl_s=15)
    assert lease.take()
    model.recorder.asked.clear()

    kept = [lease.keep() for _ in range(100)]

    assert all(kept) and model.recorder.asked == []


def test_a_projector_stopped_past_a_third_of_its_lease_asks_again_and_finds_it_taken():
    model: Any = _Model()
    lease = Lease(model, ttl_s=15)
    assert lease.take()
    lease._renewed -= 6  # paused for six seconds (a zombie), past a third of the lease
    model.recorder.holder = "another projector"

    assert not lease.keep()
    assert model.recorder.asked == ["take", "take"]
