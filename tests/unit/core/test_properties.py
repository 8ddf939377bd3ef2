"""Properties of the ledger over random command sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from events.commands import Command, SettleHold, UseTool
from events.ledger import (
    CreditsExpired,
    CreditsGranted,
    CreditsReserved,
    CycleStarted,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    PackagePurchased,
    PackageRefunded,
    PlanUpgraded,
    ToolUsed,
    UsageRefunded,
)
from services.ledger.core import Account, balance, handle, replay
from services.ledger.core.lots import spendable
from tests.unit.core import scenario as s

TOOLS = ["keyword_suggestions", "content_analysis", "article_generation", "image_generation"]
HOLDS = ["h1", "h2", "h3"]
PAYMENTS = ["p1", "p2", "p3"]

step = st.one_of(
    st.tuples(st.just("renew"), st.sampled_from(["solo", "business", "agency"])),
    st.tuples(
        st.just("buy"), st.sampled_from(["small", "medium", "large"]), st.sampled_from(PAYMENTS)
    ),
    st.tuples(st.just("use"), st.sampled_from(TOOLS), st.integers(1, 40)),
    st.tuples(st.just("use"), st.sampled_from(TOOLS), st.integers(1, 3)),
    st.tuples(st.just("reserve"), st.sampled_from(HOLDS), st.integers(1, 600), st.integers(1, 96)),
    st.tuples(st.just("settle"), st.sampled_from(HOLDS), st.integers(0, 600)),
    st.tuples(st.just("release"), st.sampled_from(HOLDS)),
    st.tuples(st.just("expire_holds")),
    st.tuples(st.just("refund_use"), st.integers(0, 60)),
    st.tuples(st.just("grant"), st.integers(1, 500), st.one_of(st.none(), st.integers(1, 900))),
    st.tuples(st.just("refund_package"), st.sampled_from(PAYMENTS)),
    st.tuples(st.just("change_plan"), st.sampled_from(["solo", "business", "agency"])),
    st.tuples(st.just("repeat"), st.integers(0, 60)),
)
opening = [(("renew", "solo"), 0), (("buy", "small", "p1"), 0)]
history = st.lists(st.tuples(step, st.integers(0, 48)), min_size=1, max_size=80).map(
    lambda steps: opening + steps
)


def commands_from(steps: list) -> list[Command]:
    """Turn drawn steps into commands with rising times (hours) and some repeated ids."""
    commands: list[Command] = []
    hours = 0.0
    last_cycle_start: float | None = None
    for (op, *args), gap_hours in steps:
        hours += gap_hours
        at = hours / 24
        if op == "renew":
            start = at if last_cycle_start is None else max(at, last_cycle_start + 1)
            last_cycle_start = start
            command = s.renewed(args[0], start, at=at)
        elif op == "buy":
            command = s.bought(args[0], at=at, payment_ref=args[1])
        elif op == "use":
            command = s.used(args[0], args[1], at=at)
        elif op == "reserve":
            command = s.reserved(args[0], credits=args[1], at=at, expires=at + args[2] / 24)
        elif op == "settle":
            command = s.settled(args[0], args[1], at=at)
        elif op == "release":
            command = s.released(args[0], at=at)
        elif op == "expire_holds":
            command = s.holds_expired(at=at)
        elif op == "refund_use":
            uses = [c.command_id for c in commands if isinstance(c, UseTool | SettleHold)]
            command = s.refunded_use(uses[args[0] % len(uses)] if uses else "none", at=at)
        elif op == "grant":
            expires = None if args[1] is None else at + args[1] / 24
            command = s.granted(args[0], at=at, expires=expires)
        elif op == "refund_package":
            command = s.refunded_package(args[0], at=at)
        elif op == "change_plan":
            command = s.changed_plan(args[0], at=at)
        else:
            if not commands:
                continue
            command = commands[args[0] % len(commands)]
        commands.append(command)
    return commands


def credits_in_minus_out(events: list[LedgerEvent]) -> int:
    """Conservation, counted from the events alone: granted + purchased - charged - held
    - expired + returned - removed."""
    total = 0
    for e in events:
        if isinstance(e, CycleStarted | PackagePurchased | CreditsGranted | PlanUpgraded):
            total += e.credits
        elif isinstance(e, ToolUsed | CreditsReserved):
            total -= e.credits
        elif isinstance(e, HoldSettled | HoldReleased | HoldExpired | UsageRefunded):
            total += sum(d.credits for d in e.returned)
        elif isinstance(e, CreditsExpired):
            total -= e.credits
        elif isinstance(e, PackageRefunded):
            total -= e.credits_removed
    return total


@settings(max_examples=300, deadline=None)
@given(history)
def test_the_ledger_keeps_its_invariants_over_any_command_sequence(steps):
    state, log = Account(), []
    for command in commands_from(steps):
        decision = handle(command, state, s.CATALOG)
        log.extend(decision.events)

        # No lot or hold is ever negative (also asserted inside handle).
        assert all(lot.remaining >= 0 for lot in decision.state.lots.values())
        # Conservation: what is spendable is exactly what came in less what went out.
        figures = balance(decision.state)
        assert figures.total == credits_in_minus_out(log)
        assert figures.held == sum(
            h.credits for h in decision.state.holds.values() if h.status == "open"
        )
        # Subscription credits are always drawn before purchased ones.
        for event in decision.events:
            if isinstance(event, ToolUsed | CreditsReserved):
                kinds = [d.kind for d in event.draws]
                if "purchased" in kinds:
                    assert "subscription" not in kinds[kinds.index("purchased") :]
                    left = spendable(decision.state, command.occurred_at)
                    assert not any(lot.kind == "subscription" for lot in left)
        # A repeated command never changes state.
        again = handle(command, decision.state, s.CATALOG)
        assert again.events == () and again.state is decision.state
        state = decision.state

    # Replaying the events always yields the same state.
    assert replay(log) == state
    assert replay(log[len(log) // 2 :], replay(log[: len(log) // 2])) == state


@settings(max_examples=50, deadline=None)
@given(history)
def test_deciding_the_same_commands_twice_gives_the_same_events(steps):
    commands = commands_from(steps)

    def run() -> list[LedgerEvent]:
        state, log = Account(), []
        for command in commands:
            decision = handle(command, state, s.CATALOG)
            state, log = decision.state, log + list(decision.events)
        return log

    assert run() == run()
