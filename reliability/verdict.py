"""The fault run's verdict: what the ledger stored, the read model and the balances topic,
each compared with the pure core's answer from the command log as the topic holds it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from events.balances import BalanceUpdated
from events.commands import COMMANDS, Command
from events.outcomes import Outcome
from projections import maintenance
from projections.settings import ProjectorSettings
from projections.store import BalanceReadModel, message_of
from reliability.harness import OUTCOMES, read_topic
from services.ledger.catalog_file import load_catalog
from services.ledger.core import Account, Remembered, handle
from services.ledger.store import LedgerStore
from services.settings import Settings


async def command_log(settings: Settings, total: int) -> list[Command]:
    """The commands topic as stored, each account's commands in partition order."""
    records = await read_topic(settings, "commands", until=lambda found: len(found) >= total)
    records.sort(key=lambda r: (r.partition, r.offset))
    return [COMMANDS.validate_json(r.value) for r in records]


def oracle(log: list[Command]) -> dict[str, list[Any]]:
    """Every account's events as the pure core decides them, in log order."""
    catalog, states = load_catalog(), defaultdict(Account)
    pasts: defaultdict[str, Remembered] = defaultdict(Remembered)
    events: dict[str, list[Any]] = defaultdict(list)
    for command in log:
        past = pasts[command.account_id]
        decision = handle(command, states[command.account_id], catalog, past)
        past.remember(decision.events)
        states[command.account_id] = decision.state
        events[command.account_id] += decision.events
    return events


def compare_streams(settings: Settings, expected: dict[str, list[Any]]) -> dict[str, Any]:
    """Accounts whose stored events equal the core's, and those that lost or repeated some."""
    store = LedgerStore(settings)
    lost, twice, differ = [], [], []
    try:
        for account, events in expected.items():
            stored = [r.event for r in store.stream(account)]
            if stored == events:
                continue
            if len(stored) < len(events) and events[: len(stored)] == stored:
                lost.append(account)
            elif len(stored) > len(events) and stored[: len(events)] == events:
                twice.append(account)
            else:
                differ.append(account)
    finally:
        store.close()
    return {
        "accounts": len(expected),
        "accounts_equal_to_the_core": len(expected) - len(lost) - len(twice) - len(differ),
        "accounts_with_lost_events": lost[:20],
        "accounts_with_events_twice": twice[:20],
        "accounts_otherwise_different": differ[:20],
        "lost": len(lost),
        "applied_twice": len(twice),
        "different": len(differ),
    }


async def compare_balances(settings: Settings) -> dict[str, Any]:
    """The balances topic's latest record per account against the read model, and the read
    model against the core's replay (``projections check``)."""
    store = LedgerStore(settings)
    try:
        _, rows = BalanceReadModel(store).snapshot()
    finally:
        store.close()
    stored = {row["account_id"]: message_of(row) for row in rows}
    latest: dict[str, BalanceUpdated] = {}
    for record in sorted(
        await read_topic(settings, "balances"), key=lambda r: (r.partition, r.offset)
    ):
        update = BalanceUpdated.model_validate_json(record.value)
        latest[update.account_id] = update
    stale = [a for a, row in stored.items() if a in latest and latest[a] != row]
    missing = [a for a in stored if a not in latest]
    _, differences = maintenance.check(ProjectorSettings(**settings.model_dump()))
    return {
        "balances_on_the_topic": len(latest),
        "read_model_rows": len(stored),
        "topic_latest_not_the_read_model": stale[:20],
        "stale": len(stale),
        "missing_on_the_topic": len(missing),
        "read_model_differences_from_the_core": [str(d) for d in differences[:20]],
    }


async def unanswered(settings: Settings, log: list[Command]) -> int:
    """Commands in the log without an outcome (on the outcomes or the replies topic)."""
    records = await read_topic(settings, OUTCOMES)
    answered = {
        (o.account_id, o.command_id)
        for o in (Outcome.model_validate_json(r.value) for r in records)
    }
    return len({(c.account_id, c.command_id) for c in log} - answered)
