"""The ledger's metrics count each command of a batch once, by type, status and code."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import Counter

from services.ledger import metrics


def total(counter: Counter, **labels: str) -> float:
    """The counter's total for ``labels`` (read from the counter itself: the registry would
    also collect whatever other tests left registered)."""
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == labels:
                return sample.value
    return 0.0


def counted(command_type: str, status: str, code: str = "") -> float:
    return total(metrics.COMMANDS, command_type=command_type, status=status, code=code)


def dead_lettered(reason: str) -> float:
    return total(metrics.DEAD_LETTERS, reason=reason)


def outcome(command_type: str, status: str, code: str | None = None, repeat: bool = False):
    return SimpleNamespace(command_type=command_type, status=status, code=code, repeat=repeat)


def test_a_batch_counts_each_command_once_by_type_status_and_code_and_each_dead_letter_by_reason():
    batch = SimpleNamespace(
        outcomes=[
            outcome("UseTool", "accepted"),
            outcome("UseTool", "accepted"),
            outcome("UseTool", "accepted", repeat=True),
            outcome("UseTool", "refused", "insufficient_credits"),
            outcome("BuyPackage", "accepted"),
            outcome("UseTool", "accepted"),
        ],
        dead_letters=[SimpleNamespace(reason="malformed"), SimpleNamespace(reason="malformed")],
    )
    before = {
        "used": counted("UseTool", "accepted"),
        "repeats": counted("UseTool", "repeat"),
        "refused": counted("UseTool", "refused", "insufficient_credits"),
        "bought": counted("BuyPackage", "accepted"),
        "malformed": dead_lettered("malformed"),
    }

    metrics.committed(batch, 8, 0.0, 0.001, 0.002, 0.003)

    assert counted("UseTool", "accepted") - before["used"] == 3
    assert counted("UseTool", "repeat") - before["repeats"] == 1
    assert counted("UseTool", "refused", "insufficient_credits") - before["refused"] == 1
    assert counted("BuyPackage", "accepted") - before["bought"] == 1
    assert dead_lettered("malformed") - before["malformed"] == 2
