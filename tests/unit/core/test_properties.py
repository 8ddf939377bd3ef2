"""Properties of the ledger over random command sequences (hypothesis).

The sequences are what a misbehaving producer and a billing system with a drifting clock send:
every command type, times that go backwards, jump years ahead or sit at the wire's bounds,
renewals early, late and out of order, holds of any length, repeated ids. Whatever comes,
``handle`` decides (it never raises), credits are conserved and never roll over.

Examples per test follow the hypothesis profile: a few hundred in CI, thousands with
``pytest --hypothesis-profile=thorough tests/unit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from events.commands import (
    EARLIEST,
    LATEST,
    ChangePlan,
    Command,
    CycleRenewed,
    ExpireHolds,
    ReserveCredits,
    SettleHold,
    UseTool,
)
from events.encoding import json_of
from events.ledger import (
    LEDGER_EVENTS,
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
    PackageRestored,
    PlanUpgraded,
    PurchaseReversed,
    ToolUsed,
    UsageRefunded,
)
from services.ledger.core import Account, balance, handle, replay
from services.ledger.core.lots import spendable
from services.ledger.core.past import Remembered, keys_for
from services.ledger.core.state import started
from tests.unit.core import scenario as s

TOOLS = ["keyword_suggestions", "content_analysis", "article_generation", "image_generation"]
PLANS = ["solo", "business", "agency"]
HOLDS = ["h1", "h2", "h3"]
PAYMENTS = ["p1", "p2", "p3"]
HOUR = timedelta(hours=1)

step = st.one_of(
    st.tuples(
        st.just("renew"),
        st.sampled_from(PLANS),
        st.integers(-24 * 40, 24 * 40),  # cycle start, hours from now: late, current or early
        st.integers(24, 24 * 31),  # cycle length in hours
    ),
    st.tuples(
        st.just("buy"), st.sampled_from(["small", "medium", "large"]), st.sampled_from(PAYMENTS)
    ),
    st.tuples(st.just("use"), st.sampled_from(TOOLS), st.integers(1, 40)),
    st.tuples(st.just("use"), st.sampled_from(TOOLS), st.integers(1, 3)),
    st.tuples(st.just("reserve"), st.sampled_from(HOLDS), st.integers(1, 600), st.integers(-2, 30)),
    st.tuples(st.just("reserve_units"), st.sampled_from(HOLDS), st.integers(1, 5)),
    st.tuples(st.just("settle"), st.sampled_from(HOLDS), st.integers(0, 600)),
    st.tuples(st.just("release"), st.sampled_from(HOLDS)),
    st.tuples(st.just("expire_holds")),
    st.tuples(st.just("refund_use"), st.integers(0, 60)),
    st.tuples(st.just("grant"), st.integers(1, 500), st.one_of(st.none(), st.integers(-5, 900))),
    st.tuples(st.just("refund_package"), st.sampled_from(PAYMENTS)),
    st.tuples(st.just("chargeback"), st.sampled_from(PAYMENTS)),
    st.tuples(st.just("dispute_won"), st.sampled_from(PAYMENTS)),
    st.tuples(st.just("change_plan"), st.sampled_from(PLANS)),
    st.tuples(st.just("repeat"), st.integers(0, 60)),
)
# How far the producer's clock moves between two commands, in hours: mostly forward a little,
# sometimes backwards, sometimes years either way (clamped to the wire's bounds).
gap = st.one_of(
    *[st.integers(0, 48)] * 8,
    *[st.integers(-72, 0)] * 2,
    st.integers(-24 * 400, 24 * 400),
    st.integers(-24 * 365 * 30, 24 * 365 * 200),
)
opening = [(("renew", "solo", 0, 24 * 30), 0), (("buy", "small", "p1"), 0)]
history = st.lists(st.tuples(step, gap), min_size=10, max_size=80).map(lambda s: opening + s)


def commands_from(steps: list) -> list[Command]:
    """Turn drawn steps into commands, the clock moving by each step's gap."""
    commands: list[Command] = []
    now = s.day(0)
    for (op, *args), gap_hours in steps:
        now = _within_bounds(now + gap_hours * HOUR)
        command = _command(op, args, now, commands)
        if command is not None:
            commands.append(command)
    return commands


def _command(op: str, args: list, now: datetime, earlier: list[Command]) -> Command | None:
    base = {"command_id": f"cmd-{len(earlier)}", "account_id": s.ACCOUNT, "occurred_at": now}
    if op == "renew":
        start = _within_bounds(now + args[1] * HOUR, room=HOUR * 24 * 32)
        end = start + args[2] * HOUR
        return CycleRenewed(**base, plan=args[0], cycle_start=start, cycle_end=end)
    if op == "reserve" or op == "reserve_units":
        expires = _within_bounds(now + (args[2] if op == "reserve" else 1) * HOUR)
        amount = {"credits": args[1]} if op == "reserve" else {"units": args[1]}
        return ReserveCredits(**base, hold_id=args[0], tool="image_generation", **amount,
                              expires_at=expires)  # fmt: skip
    if op == "expire_holds":
        return ExpireHolds(**base)
    if op == "change_plan":
        return ChangePlan(**base, plan=args[0])
    if op == "repeat":
        return earlier[args[0] % len(earlier)] if earlier else None
    return _simple(op, args, base, earlier)


def _simple(op: str, args: list, base: dict, earlier: list[Command]) -> Command:
    at = (base["occurred_at"] - s.day(0)) / timedelta(days=1)
    if op == "buy":
        return s.bought(args[0], at=at, payment_ref=args[1]).model_copy(update=base)
    if op == "use":
        return s.used(args[0], args[1], at=at).model_copy(update=base)
    if op == "settle":
        return s.settled(args[0], args[1], at=at).model_copy(update=base)
    if op == "release":
        return s.released(args[0], at=at).model_copy(update=base)
    if op == "refund_use":
        uses = [c.command_id for c in earlier if isinstance(c, UseTool | SettleHold)]
        return s.refunded_use(uses[args[0] % len(uses)] if uses else "none").model_copy(update=base)
    if op == "grant":
        expires = None if args[1] is None else _within_bounds(base["occurred_at"] + args[1] * HOUR)
        return s.granted(args[0]).model_copy(update={**base, "expires_at": expires})
    if op == "chargeback":
        return s.charged_back(args[0]).model_copy(update=base)
    if op == "dispute_won":
        return s.dispute_won(args[0]).model_copy(update=base)
    assert op == "refund_package", op
    return s.refunded_package(args[0]).model_copy(update=base)


def _within_bounds(moment: datetime, room: timedelta = timedelta(0)) -> datetime:
    return min(max(moment, EARLIEST), LATEST - room - timedelta(microseconds=1))


def credits_in_minus_out(events: list[LedgerEvent]) -> int:
    """Conservation, counted from the events alone: granted + purchased - charged - held
    - expired + returned - removed + restored."""
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
        elif isinstance(e, PackageRefunded | PurchaseReversed):
            total -= e.credits_removed
        elif isinstance(e, PackageRestored):
            total += e.credits
    return total


@given(history)
def test_the_ledger_decides_every_sequence_and_keeps_its_invariants(steps):
    state, log, past = Account(), [], Remembered()
    for command in commands_from(steps):
        asked = OnlyPrefetched(past, keys_for(command))
        decision = handle(command, state, s.CATALOG, asked)  # never raises, whatever comes
        log.extend(decision.events)
        past.remember(decision.events)
        after = decision.state

        # No lot or hold is ever negative (also asserted inside handle).
        assert all(lot.remaining >= 0 for lot in after.lots.values())
        # Conservation: credits in open lots are exactly what came in less what went out.
        in_lots = sum(lot.remaining for lot in after.lots.values())
        assert in_lots == credits_in_minus_out(log)
        assert balance(after).held == sum(h.credits for h in after.holds.values())
        # Never more than one cycle's allowance spendable at once: nothing rolls over.
        current = [
            lot
            for lot in after.lots.values()
            if lot.kind == "subscription" and started(lot, after.as_of)
        ]
        assert len(current) <= 1, current
        assert balance(after).subscription <= max((lot.credits for lot in current), default=0)
        _drawn_in_order(decision.events, after)
        # A repeated command never changes state.
        again = handle(command, after, s.CATALOG, past)
        assert again.events == () and again.state is after and again.outcome == decision.outcome
        state = after

    # The account's time never goes back, and replaying the events yields the same state.
    times = [event.occurred_at for event in log]
    assert times == sorted(times)
    assert replay(log) == state
    assert replay(log[len(log) // 2 :], replay(log[: len(log) // 2])) == state


class OnlyPrefetched:
    """A past that answers only the keys the shell fetched for the command (``keys_for``)."""

    def __init__(self, past: Remembered, keys: tuple[str, ...]) -> None:
        self.past, self.keys = past, keys

    def recall(self, key: str) -> LedgerEvent | None:
        assert key in self.keys, f"handle looked up {key}, which keys_for did not name"
        return self.past.recall(key)


def _drawn_in_order(events: tuple[LedgerEvent, ...], after: Account) -> None:
    """Subscription credits are always drawn before purchased ones."""
    for event in events:
        if isinstance(event, ToolUsed | CreditsReserved):
            kinds = [d.kind for d in event.draws]
            if "purchased" in kinds:
                assert "subscription" not in kinds[kinds.index("purchased") :]
                left = spendable(after, event.occurred_at)
                assert not any(lot.kind == "subscription" for lot in left)


@given(history)
def test_deciding_the_same_commands_twice_gives_the_same_events(steps):
    commands = commands_from(steps)

    def run() -> list[LedgerEvent]:
        state, log, past = Account(), [], Remembered()
        for command in commands:
            decision = handle(command, state, s.CATALOG, past)
            state, log = decision.state, log + list(decision.events)
            past.remember(decision.events)
        return log

    assert run() == run()


@given(history)
def test_events_the_rules_build_are_what_their_models_validate(steps):
    """The rules build their events as trusted (``events.trusted``), not validated: each must
    be exactly the event its model reads back from its own JSON, written in its fields' order
    (the stored bytes and the chain depend on it), with its type's own values."""
    state, past = Account(), Remembered()
    for command in commands_from(steps):
        decision = handle(command, state, s.CATALOG, past)
        for event in decision.events:
            stored = event.model_dump_json()
            read = LEDGER_EVENTS.validate_json(stored)
            assert read == event and type(read) is type(event)
            assert read.model_dump_json() == stored
            assert list(event.__dict__) == list(type(event).model_fields)
            assert json_of(event) == stored.encode()  # the store writes it by msgspec
            assert read.occurred_at.tzinfo is event.occurred_at.tzinfo
        state = decision.state
        past.remember(decision.events)


def test_events_come_out_in_the_same_order_under_any_hash_seed():
    """Sets and maps must never decide an order: three processes, three seeds, one answer."""
    script = (
        "import json\n"
        "from tests.unit.core.test_properties import commands_from, decide_all\n"
        f"steps = json.loads({json.dumps(json.dumps(_MANY_LOTS))!s})\n"
        "print(json.dumps(decide_all(commands_from(steps))))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        for seed in ("0", "1", "2")
    }

    assert len(outputs) == 1
    assert "CreditsExpired" in outputs.pop()


def decide_all(commands: list[Command]) -> list[str]:
    state, out, past = Account(), [], Remembered()
    for command in commands:
        decision = handle(command, state, s.CATALOG, past)
        out.extend(event.model_dump_json() for event in decision.events)
        state = decision.state
        past.remember(decision.events)
    return out


# Two cycles open at once (an early renewal), several grants and holds ending together.
_MANY_LOTS = [
    [["renew", "solo", 0, 720], 0],
    [["grant", 100, 50], 0],
    [["grant", 200, 50], 0],
    [["grant", 300, 50], 0],
    [["reserve", "h1", 50, 20], 1],
    [["reserve", "h2", 60, 20], 0],
    [["reserve", "h3", 70, 20], 0],
    [["renew", "agency", 30, 720], 660],
    [["use", "keyword_suggestions", 1], 40],
    [["renew", "business", 0, 720], 24 * 40],
]
