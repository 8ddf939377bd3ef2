"""The naive baseline (issue 15): the benchmark's commands decided by the same core and saved
by stock ``eventsourcing``: an ``Application`` with one aggregate per account, one transaction
per command, on the same store kind, no Kafka. What the ledger would do if it were written the
way the library's examples are; the ledger should beat it by batching.

The aggregate cache holds every account (the ledger caches accounts too), so the baseline is
not charged for re-reading streams. Accounts are opened first (not timed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from benchmarks.mix import Message
from events.commands import parse_command
from events.ledger import LEDGER_EVENTS
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, Catalog, Remembered, handle, replay
from services.ledger.store import postgres_env
from services.settings import Settings


class Wallet(Aggregate):
    """One account as a stock aggregate: the core's state, and its past for idempotency."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.state = Account()
        self.past = Remembered()

    @classmethod
    def create_id(cls, account_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"kalema-wallet:{account_id}")

    @event("Decided")
    def decided(self, facts: list[dict[str, Any]]) -> None:
        events = [LEDGER_EVENTS.validate_python(fact) for fact in facts]
        self.state = replay(events, self.state)
        self.past.remember(events)


class NaiveLedger(Application[UUID]):
    """The stock application: ``repository.get``, decide, ``save`` (one transaction)."""

    def __init__(self, settings: Settings, accounts: int) -> None:
        super().__init__(env=_env(settings, accounts))
        self.catalog: Catalog = load_catalog()

    def decide(self, value: bytes) -> None:
        command = parse_command(value)
        try:
            wallet: Wallet = self.repository.get(Wallet.create_id(command.account_id))
        except AggregateNotFoundError:
            wallet = Wallet(command.account_id)
        decision = handle(command, wallet.state, self.catalog, wallet.past)
        if decision.events:
            wallet.decided([e.model_dump(mode="json") for e in decision.events])
            self.save(wallet)


def naive(
    settings: Settings,
    opening: list[Message],
    measured: list[Message],
    accounts: int,
    step: Callable[[int, int], None],
) -> dict[str, Any]:
    """Open the accounts, then time ``measured`` one transaction per command."""
    app = NaiveLedger(settings, accounts)
    try:
        for _, value in opening:
            app.decide(value)
        began = time.perf_counter()
        for n, (_, value) in enumerate(measured):
            app.decide(value)
            if n % 500 == 499:
                step(n + 1, len(measured))
        elapsed = time.perf_counter() - began
    finally:
        app.close()
    return {
        "commands": len(measured),
        "seconds": round(elapsed, 2),
        "commands_per_s": round(len(measured) / elapsed),
        "aggregate_cache": accounts,
    }


def _env(settings: Settings, accounts: int) -> dict[str, str]:
    env = {"AGGREGATE_CACHE_MAXSIZE": str(accounts), "CREATE_TABLE": "y"}
    if settings.event_store == "sqlite":
        return env | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path.with_name("naive.sqlite")),
        }
    return env | postgres_env(settings)
