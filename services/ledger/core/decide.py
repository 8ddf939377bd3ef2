"""``decide``: every credit rule. ``handle``: a command's whole decision, idempotent.

Time comes in on the command (``occurred_at``); nothing here reads a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple, TypeVar, final

from events.commands import (
    BuyPackage,
    ChangePlan,
    Command,
    ConfigureAutoTopUp,
    CycleRenewed,
    DisableAutoTopUp,
    ExpireHolds,
    GrantCredits,
    Offer,
    RecordTopUpFailure,
    RefundPackage,
    RefundUsage,
    ReleaseHold,
    ReserveCredits,
    RestorePackage,
    SavePaymentMethod,
    SettleHold,
    UseTool,
)
from events.ledger import (
    DECISION_EVENTS,
    AutoTopUpConfigured,
    AutoTopUpDisabled,
    CommandRefused,
    CreditsExpired,
    CreditsGranted,
    CreditsReserved,
    CycleStarted,
    DecisionEvent,
    Draw,
    ExpiryChecked,
    HoldExpired,
    HoldReleased,
    HoldSettled,
    LedgerEvent,
    PackagePartlyRefunded,
    PackagePurchased,
    PackageRefunded,
    PackageRestored,
    PaymentMethodSaved,
    PaymentParked,
    PaymentReversed,
    PlanDowngradeCancelled,
    PlanDowngradeScheduled,
    PlanUpgraded,
    PurchaseReversed,
    ToolUsed,
    TopUpFailed,
    TopUpRequested,
    UsageRefunded,
)
from events.refusals import (
    AlreadyRefunded,
    ClockSkew,
    DisputeAlreadyWon,
    DuplicateHold,
    DuplicatePayment,
    HoldNotOpen,
    InvalidAmount,
    InvalidCommand,
    NoPaymentMethod,
    NoSubscription,
    NotDisputed,
    PaymentAlreadyUsed,
    PlanUnchanged,
    Refusal,
    StaleCycle,
    TopUpNotInFlight,
    UnknownAccount,
    UnknownHold,
    UnknownPackage,
    UnknownPlan,
    UnknownTool,
    UnknownUsage,
)
from events.trusted import made, trusted
from services.ledger.core.catalog import (
    Catalog,
    PackageOffer,
    PlanTerms,
    ToolPrice,
    refunded_credits,
)
from services.ledger.core.invariants import check_invariants
from services.ledger.core.lots import ends, give_back, take
from services.ledger.core.past import (
    NOTHING,
    Past,
    Then,
    bought_anywhere,
    decided,
    payment,
    refund_of,
    refunded_part,
    reversal,
)
from services.ledger.core.past import hold as hold_key
from services.ledger.core.state import Account, Hold, Lot, balance, evolve, month_of, replay

Events = tuple[LedgerEvent, ...]
Rule = Callable[[Any, Account, Catalog, Past], Events]
AnyCommand = TypeVar("AnyCommand", bound=Command)
# Looked up by type: ``isinstance`` tries the 23 of them in turn, for every decision.
_DECISION_TYPES = frozenset(DECISION_EVENTS)
MAX_TOP_UP_ATTEMPTS = 3  # declined this many times in a row, automatic top-ups turn off
TOP_UP_BACKOFF_S = (0, 60, 600)  # how long attempt 1, 2, 3 waits after the decision asking it


class Decision(NamedTuple):
    """What handling a command did: the new events, the account after them, and the outcome.

    A named tuple, as the state is: one is made per command, and a frozen dataclass sets
    each field through ``object.__setattr__``."""

    events: Events
    state: Account
    outcome: DecisionEvent
    repeat: bool = False

    @property
    def refusal(self) -> CommandRefused | None:
        return self.outcome if isinstance(self.outcome, CommandRefused) else None

    @property
    def refused(self) -> bool:
        return self.refusal is not None


@final
class Arrival:
    """When a command's record reached the broker (its Kafka timestamp), how far ahead of
    that a producer's clock may be, and so the ``latest`` ``occurred_at`` the command may
    carry. Never changed once made.

    A plain class, not a frozen dataclass: the ledger makes one per command, and compiled
    (``services.native``) its ``__init__`` is C, where a frozen dataclass's is generated
    Python setting each field through ``object.__setattr__`` (BENCHMARKS.md, issue 26)."""

    __slots__ = ("at", "latest", "max_skew_s")

    def __init__(self, at: datetime, max_skew_s: int) -> None:
        self.at: Final = at
        self.max_skew_s: Final = max_skew_s
        self.latest: Final = at + timedelta(seconds=max_skew_s)

    def __repr__(self) -> str:
        return f"Arrival(at={self.at!r}, max_skew_s={self.max_skew_s!r})"


def handle(
    command: Command,
    state: Account,
    catalog: Catalog,
    past: Past = NOTHING,
    arrival: Arrival | None = None,
) -> Decision:
    """Decide a command once: a repeat of a decided ``command_id`` returns the first outcome.

    ``past`` answers what the state does not carry (``past.keys_for(command)``): the shell
    looks it up in the store's index.

    An account's time never goes back: a command stamped before the account's latest event
    (a late producer, a clock behind) is decided as of that event, so it can neither undo an
    expiry already recorded nor act on credits that have ended. Nor does it jump ahead: a
    command stamped after its ``arrival`` allows is refused ``clock_skew`` (``ahead``)."""
    if (earlier := past.recall(decided(command.command_id))) is not None:
        assert type(earlier) in _DECISION_TYPES, earlier
        return Decision((), state, earlier, repeat=True)  # type: ignore[arg-type]
    if arrival is not None and command.occurred_at > arrival.latest:
        return ahead(command, state, arrival)
    command = not_before(command, state.as_of)
    due = catch_up(state, command.occurred_at, command.command_id)
    current = replay(due, state)
    if due:
        past = Then(due, past)
    try:
        own = decide(command, current, catalog, past)
    except Refusal as refusal:
        own = (refused(command, refusal),)
    after = replay(own, current)
    outcome = own[-1]
    if not isinstance(outcome, CommandRefused) and (top_up := top_up_due(command, after, catalog)):
        own, after = (*own, top_up), evolve(after, top_up)
    check_invariants(after)
    assert type(outcome) in _DECISION_TYPES, f"{type(command).__name__} decided nothing"
    return Decision(due + own, after, outcome)  # type: ignore[arg-type]


def ahead(command: Command, state: Account, arrival: Arrival) -> Decision:
    """The refusal of a command stamped too far ahead of its arrival. It moves nothing, not
    even the account's time: it is recorded as of the account's latest event (for an account
    with none yet, as of its arrival), and time's own expiries wait for the next command."""
    refusal = ClockSkew(
        f"stamped more than {arrival.max_skew_s} s ahead of its arrival at the broker",
        occurred_at=_utc(command.occurred_at),
        arrived_at=_utc(arrival.at),
        max_skew_s=arrival.max_skew_s,
    )
    at = command.model_copy(update={"occurred_at": state.as_of or arrival.at})
    outcome = refused(at, refusal)
    return Decision((outcome,), replay((outcome,), state), outcome)


def top_up_due(command: Command, state: Account, catalog: Catalog) -> TopUpRequested | None:
    """The automatic top-up a decision makes due: its account's rule is on, nothing is being
    charged, and the spendable balance it left (holds excluded) is below the threshold. The
    first attempt of a crossing counts against the month's cap; a retry after a declined
    charge (``failures``) does not, and waits its backoff. The request's id comes from the
    account and the command, so a repeated command can never ask twice."""
    top_up = state.top_up
    if top_up.threshold_credits is None or top_up.in_flight is not None:
        return None  # the hot path: one or two attribute reads
    spendable = balance(state).total
    package = top_up.package or ""
    offer = catalog.packages.get(package)
    if spendable >= top_up.threshold_credits or offer is None or top_up.card_ref is None:
        return None  # a package no longer sold is not bought: the page shows the rule idle
    attempt = top_up.failures + 1
    now = command.occurred_at
    if attempt == 1 and top_up.month == month_of(now) and top_up.requested >= top_up.max_per_month:
        return None
    return made(
        TopUpRequested,
        **_caused_by(command),
        request_id=top_up_request_id(command.account_id, command.command_id),
        package=package,
        credits=offer.credits,
        price_cents=offer.price_cents,
        currency=offer.currency,
        payment_method=top_up.card_ref,
        attempt=attempt,
        not_before=now + timedelta(seconds=TOP_UP_BACKOFF_S[attempt - 1]),
        balance_credits=spendable,
        threshold_credits=top_up.threshold_credits,
    )


def top_up_request_id(account_id: str, command_id: str) -> str:
    """The id of the top-up a command's decision asks for: the provider's idempotency key."""
    digest = hashlib.sha256(f"{account_id}|{command_id}".encode()).hexdigest()
    return f"topup-{digest[:32]}"


def not_before(command: AnyCommand, moment: datetime | None) -> AnyCommand:
    """The command as of ``moment`` if it is stamped earlier."""
    if moment is None or command.occurred_at >= moment:
        return command
    return command.model_copy(update={"occurred_at": moment})


def catch_up(state: Account, now: datetime, command_id: str) -> Events:
    """Time's facts due by ``now``: lots that have ended (their unused credits expire; an
    emptied lot closes with 0, so nothing can be given back to it later), then holds past
    their ``expires_at``, each in a fixed order."""
    if not _anything_due(state, now):
        return ()  # the common case, without working out every lot's end
    end = ends(state)
    caused = {"command_id": command_id, "occurred_at": now}
    due: list[LedgerEvent] = [
        expiry(lot, lot_end, caused)
        for lot in sorted(state.lots.values(), key=lambda lot: lot.seq)
        if (lot_end := end[lot.lot_id]) is not None and lot_end <= now
    ]
    for hold in sorted(state.holds.values(), key=lambda hold: (hold.expires_at, hold.hold_id)):
        if hold.expires_at <= now:
            returned, forfeited = give_back(state, hold.draws, now)
            due.append(
                made(
                    HoldExpired,
                    **caused,
                    hold_id=hold.hold_id,
                    returned=returned,
                    forfeited=forfeited,
                )
            )
    return tuple(due)


def _anything_due(state: Account, now: datetime) -> bool:
    """Whether a lot or a hold may have ended by ``now``. With at most one cycle's lot, each
    lot ends at its ``expires_at`` (``lots.ends`` cuts a cycle short only at the next one)."""
    cycles = 0
    for lot in state.lots.values():
        if lot.expires_at is not None and lot.expires_at <= now:
            return True
        cycles += lot.kind == "subscription"
    if cycles > 1:
        return True
    return bool(state.holds) and any(hold.expires_at <= now for hold in state.holds.values())


def expiry(lot: Lot, at: datetime, caused: dict[str, Any]) -> CreditsExpired:
    """The lot's unused credits expire (and the lot closes) as of ``at``."""
    return made(
        CreditsExpired,
        **caused,
        lot_id=lot.lot_id,
        kind=lot.kind,
        credits=lot.remaining,
        expired_at=at,
    )


def decide(command: Command, state: Account, catalog: Catalog, past: Past = NOTHING) -> Events:
    """The events a command causes on a caught-up account, or a typed ``Refusal``."""
    rule: Rule = _RULES[type(command)]
    return rule(command, state, catalog, past)


def refused(command: Command, refusal: Refusal) -> CommandRefused:
    # Trusted, as every event the rules build below: each value is a validated command's or
    # the rules' own, typed (``test_events_the_rules_build_are_valid`` checks them all).
    return trusted(
        CommandRefused,
        {
            "command_id": command.command_id,
            "occurred_at": command.occurred_at,
            "type": "CommandRefused",
            "command_type": type(command).__name__,
            "code": refusal.code,
            "message": refusal.message,
            "details": refusal.details,
        },
    )


def _use_tool(cmd: UseTool, state: Account, catalog: Catalog, past: Past) -> Events:
    price = _tool(catalog, cmd.tool)
    _require_opened(state)
    credits = price.credits * cmd.units
    used = {
        "command_id": cmd.command_id,
        "occurred_at": cmd.occurred_at,
        "type": "ToolUsed",
        "tool": cmd.tool,
        "units": cmd.units,
        "unit_cost_credits": price.credits,
        "catalog_version": catalog.version,
        "credits": credits,
        "draws": take(state, credits, cmd.occurred_at),
    }
    return (trusted(ToolUsed, used),)


def _buy_package(cmd: BuyPackage, state: Account, catalog: Catalog, past: Past) -> Events:
    """The package as quoted at checkout (``offer``), else as the catalog sells it today. A
    payment that is not its price (or for a package no longer sold) is parked, paid but not
    credited; a payment already reversed buys the package and loses it in one decision. A
    payment buys one package in the whole store: not another for a second account."""
    if past.recall(payment(cmd.payment_ref)) is not None:
        raise DuplicatePayment(
            f"payment {cmd.payment_ref!r} already bought a package", payment_ref=cmd.payment_ref
        )
    if past.recall(bought_anywhere(cmd.payment_ref)) is not None:
        raise PaymentAlreadyUsed(
            f"payment {cmd.payment_ref!r} already bought a package for another account",
            payment_ref=cmd.payment_ref,
        )
    offer = cmd.offer or catalog.packages.get(cmd.package)
    paid = cmd.paid
    if paid is not None and (
        offer is None or (paid.amount_cents, paid.currency) != (offer.price_cents, offer.currency)
    ):
        return (_parked(cmd, paid.amount_cents, paid.currency, offer),)
    if offer is None:
        raise UnknownPackage(f"no package {cmd.package!r}", package=cmd.package)
    lot_id = f"package:{cmd.payment_ref}"
    purchased = made(
        PackagePurchased,
        **_caused_by(cmd),
        lot_id=lot_id,
        package=cmd.package,
        credits=offer.credits,
        price_cents=offer.price_cents,
        currency=offer.currency,
        payment_ref=cmd.payment_ref,
        catalog_version=catalog.version,
        top_up=cmd.top_up,
    )
    earlier = past.recall(reversal(cmd.payment_ref))
    if not isinstance(earlier, PaymentReversed):
        return (purchased,)
    cents = earlier.refunded_cents
    removed = made(
        PurchaseReversed,
        **_caused_by(cmd),
        payment_ref=cmd.payment_ref,
        lot_id=lot_id,
        credits_removed=offer.credits
        if cents is None
        else refunded_credits(offer.credits, offer.price_cents, cents),
        reason=earlier.reason,
        refunded_cents=cents,
    )
    return (purchased, removed)


def _parked(
    cmd: BuyPackage, paid_cents: int, currency: str, offer: PackageOffer | Offer | None
) -> PaymentParked:
    return made(
        PaymentParked,
        **_caused_by(cmd),
        payment_ref=cmd.payment_ref,
        package=cmd.package,
        paid_cents=paid_cents,
        currency=currency,
        price_cents=None if offer is None else offer.price_cents,
        price_currency=None if offer is None else offer.currency,
    )


def _cycle_renewed(cmd: CycleRenewed, state: Account, catalog: Catalog, past: Past) -> Events:
    """A cycle that has begun ends the previous one now (its unused credits expire); one
    renewed early waits for its ``cycle_start``, and the previous cycle's credits stay until
    then (``lots.ends``). Billing's plan is granted; a plan the ledger did not expect is
    recorded (``expected_plan``), never silently dropped."""
    terms = _plan(catalog, cmd.plan)
    if cmd.cycle_end <= cmd.occurred_at:
        raise StaleCycle("that credit cycle has already ended", cycle_end=_utc(cmd.cycle_end))
    if state.cycle_start is not None and cmd.cycle_start <= state.cycle_start:
        raise StaleCycle(
            "that credit cycle has already started",
            cycle_start=_utc(cmd.cycle_start),
            current_cycle_start=_utc(state.cycle_start),
        )
    begun = cmd.cycle_start <= cmd.occurred_at
    unused = [
        expiry(lot, cmd.cycle_start, _caused_by(cmd))
        for lot in sorted(state.lots.values(), key=lambda lot: lot.seq)
        if begun and lot.kind == "subscription"
    ]
    expected = state.pending_plan or state.plan
    started = made(
        CycleStarted,
        **_caused_by(cmd),
        plan=cmd.plan,
        billing_interval=cmd.billing_interval,
        cycle_start=cmd.cycle_start,
        cycle_end=cmd.cycle_end,
        lot_id=f"cycle:{_utc(cmd.cycle_start)}",
        credits=terms.credits_per_cycle,
        expected_plan=expected if expected not in (None, cmd.plan) else None,
    )
    return (*unused, started)


def _reserve_credits(cmd: ReserveCredits, state: Account, catalog: Catalog, past: Past) -> Events:
    price = _tool(catalog, cmd.tool)
    _require_opened(state)
    if cmd.hold_id in state.holds or past.recall(hold_key(cmd.hold_id)) is not None:
        raise DuplicateHold(f"hold {cmd.hold_id!r} already exists", hold_id=cmd.hold_id)
    if cmd.expires_at <= cmd.occurred_at:
        raise InvalidCommand("a hold must expire after it is made", hold_id=cmd.hold_id)
    if cmd.expires_at - cmd.occurred_at > timedelta(hours=catalog.max_hold_hours):
        raise InvalidCommand(
            f"a hold may last at most {catalog.max_hold_hours} hours",
            hold_id=cmd.hold_id,
            max_hold_hours=catalog.max_hold_hours,
        )
    credits = price.credits * cmd.units if cmd.units is not None else (cmd.credits or 0)
    return (
        made(
            CreditsReserved,
            **_caused_by(cmd),
            hold_id=cmd.hold_id,
            tool=cmd.tool,
            units=cmd.units,
            catalog_version=catalog.version,
            credits=credits,
            unit_cost_credits=None if cmd.units is None else price.credits,
            draws=take(state, credits, cmd.occurred_at),
            expires_at=cmd.expires_at,
        ),
    )


def _settle_hold(cmd: SettleHold, state: Account, catalog: Catalog, past: Past) -> Events:
    hold = _open_hold(state, past, cmd.hold_id)
    if cmd.credits > hold.credits:
        raise InvalidAmount(
            "cannot settle more than the hold reserved",
            hold_id=hold.hold_id,
            reserved=hold.credits,
            requested=cmd.credits,
        )
    charged, rest = _split(hold.draws, cmd.credits)
    returned, forfeited = give_back(state, rest, cmd.occurred_at)
    return (
        made(
            HoldSettled,
            **_caused_by(cmd),
            hold_id=hold.hold_id,
            tool=hold.tool,
            credits=cmd.credits,
            draws=charged,
            returned=returned,
            forfeited=forfeited,
        ),
    )


def _release_hold(cmd: ReleaseHold, state: Account, catalog: Catalog, past: Past) -> Events:
    hold = _open_hold(state, past, cmd.hold_id)
    returned, forfeited = give_back(state, hold.draws, cmd.occurred_at)
    return (
        made(
            HoldReleased,
            **_caused_by(cmd),
            hold_id=hold.hold_id,
            returned=returned,
            forfeited=forfeited,
        ),
    )


def _expire_holds(cmd: ExpireHolds, state: Account, catalog: Catalog, past: Past) -> Events:
    _require_opened(state)
    return (
        made(ExpiryChecked, **_caused_by(cmd)),
    )  # catch_up has recorded everything that was due


def _refund_usage(cmd: RefundUsage, state: Account, catalog: Catalog, past: Past) -> Events:
    use = past.recall(decided(cmd.of_command_id))
    if not isinstance(use, ToolUsed | HoldSettled):
        raise UnknownUsage(
            f"no use {cmd.of_command_id!r} on this account", of_command_id=cmd.of_command_id
        )
    if (refund := past.recall(refund_of(cmd.of_command_id))) is not None:
        raise AlreadyRefunded(
            f"use {cmd.of_command_id!r} was already refunded",
            of_command_id=cmd.of_command_id,
            refunded_by=refund.command_id,
        )
    returned, forfeited = give_back(state, use.draws, cmd.occurred_at)
    return (
        made(
            UsageRefunded,
            **_caused_by(cmd),
            of_command_id=cmd.of_command_id,
            credits=use.credits,
            returned=returned,
            forfeited=forfeited,
        ),
    )


def _grant_credits(cmd: GrantCredits, state: Account, catalog: Catalog, past: Past) -> Events:
    if cmd.expires_at is not None and cmd.expires_at <= cmd.occurred_at:
        raise InvalidCommand("granted credits must expire after they are granted")
    return (
        made(
            CreditsGranted,
            **_caused_by(cmd),
            lot_id=f"grant:{cmd.command_id}",
            credits=cmd.credits,
            expires_at=cmd.expires_at,
            reason=cmd.reason,
        ),
    )


def _refund_package(cmd: RefundPackage, state: Account, catalog: Catalog, past: Past) -> Events:
    """Remove what remains of the package the payment bought; a reversal that arrives before
    the purchase is recorded, so the purchase, when it comes, removes its credits at once."""
    if cmd.refunded_cents is not None and cmd.reason == "refund":
        return _refund_part(cmd, cmd.refunded_cents, state, past)
    bought = past.recall(payment(cmd.payment_ref))
    earlier = past.recall(reversal(cmd.payment_ref))
    if cmd.reason == "chargeback" and isinstance(earlier, PackageRestored):
        raise DisputeAlreadyWon(
            f"the dispute over payment {cmd.payment_ref!r} was already won",
            payment_ref=cmd.payment_ref,
        )
    if not isinstance(bought, PackagePurchased):
        if isinstance(earlier, PaymentReversed) and earlier.refunded_cents is None:
            raise AlreadyRefunded(
                f"payment {cmd.payment_ref!r} was already reversed", payment_ref=cmd.payment_ref
            )
        return (
            made(
                PaymentReversed, **_caused_by(cmd), payment_ref=cmd.payment_ref, reason=cmd.reason
            ),
        )
    lot_id = bought.lot_id
    if lot_id in state.refunded:
        raise AlreadyRefunded(
            f"payment {cmd.payment_ref!r} was already refunded", payment_ref=cmd.payment_ref
        )
    lot = state.lots.get(lot_id)  # a package's emptied lot has closed: nothing remains
    remaining = lot.remaining if lot is not None else 0
    held = sum(d.credits for h in state.holds.values() for d in h.draws if d.lot_id == lot_id)
    return (
        made(
            PackageRefunded,
            **_caused_by(cmd),
            payment_ref=cmd.payment_ref,
            lot_id=lot_id,
            credits_removed=remaining,
            shortfall_credits=bought.credits
            - _refunded_so_far(past, cmd.payment_ref)[1]
            - remaining
            - held,
            credits_held=held,
            reason=cmd.reason,
        ),
    )


def _refund_part(cmd: RefundPackage, cents: int, state: Account, past: Past) -> Events:
    """A partial refund (``cents`` refunded so far, in all) removes the credits its share paid
    for, less what earlier partial refunds removed; one no larger than those is a repeat."""
    ref = cmd.payment_ref
    bought = past.recall(payment(ref))
    if not isinstance(bought, PackagePurchased):
        earlier = past.recall(reversal(ref))
        if isinstance(earlier, PaymentReversed) and (earlier.refunded_cents or cents) >= cents:
            raise AlreadyRefunded(f"payment {ref!r} was already refunded that far", payment_ref=ref)
        return (
            made(
                PaymentReversed,
                **_caused_by(cmd),
                payment_ref=ref,
                reason="refund",
                refunded_cents=cents,
            ),
        )
    so_far_cents, so_far_credits = _refunded_so_far(past, ref)
    if bought.lot_id in state.refunded or cents <= so_far_cents:
        raise AlreadyRefunded(f"payment {ref!r} was already refunded that far", payment_ref=ref)
    credits = refunded_credits(bought.credits, bought.price_cents, cents)
    lot = state.lots.get(bought.lot_id)
    part = credits - so_far_credits
    removed = min(part, lot.remaining if lot is not None else 0)
    return (
        made(
            PackagePartlyRefunded,
            **_caused_by(cmd),
            payment_ref=ref,
            lot_id=bought.lot_id,
            refunded_cents=cents,
            credits_refunded=credits,
            credits_removed=removed,
            shortfall_credits=part - removed,
        ),
    )


def _refunded_so_far(past: Past, payment_ref: str) -> tuple[int, int]:
    """How much of a bought package's payment partial refunds gave back, in cents and in the
    credits that share paid for."""
    earlier = past.recall(refunded_part(payment_ref))
    if isinstance(earlier, PackagePartlyRefunded):
        return earlier.refunded_cents, earlier.credits_refunded
    if isinstance(earlier, PurchaseReversed) and earlier.refunded_cents is not None:
        return earlier.refunded_cents, earlier.credits_removed
    return 0, 0


def _restore_package(cmd: RestorePackage, state: Account, catalog: Catalog, past: Past) -> Events:
    """A dispute won gives back what its chargeback removed, and only that. Won before the
    chargeback (or before the purchase) is recorded, it restores nothing now and the
    chargeback, when it comes, removes nothing."""
    earlier = past.recall(reversal(cmd.payment_ref))
    credits = 0
    if isinstance(earlier, PackageRestored):
        raise NotDisputed(
            f"the dispute over payment {cmd.payment_ref!r} was already won",
            payment_ref=cmd.payment_ref,
        )
    if isinstance(earlier, PackageRefunded | PurchaseReversed | PaymentReversed):
        if earlier.reason != "chargeback":
            raise NotDisputed(
                f"payment {cmd.payment_ref!r} was refunded, not charged back",
                payment_ref=cmd.payment_ref,
            )
        if not isinstance(earlier, PaymentReversed):
            credits = earlier.credits_removed
    return (
        made(
            PackageRestored,
            **_caused_by(cmd),
            payment_ref=cmd.payment_ref,
            lot_id=f"package:{cmd.payment_ref}",
            credits=credits,
        ),
    )


def _change_plan(cmd: ChangePlan, state: Account, catalog: Catalog, past: Past) -> Events:
    terms = _plan(catalog, cmd.plan)
    if state.plan is None or state.cycle_end is None or state.cycle_end <= cmd.occurred_at:
        raise NoSubscription("no current credit cycle to change the plan of")
    at = _caused_by(cmd)
    if cmd.plan == state.plan:
        if state.pending_plan is None:
            raise PlanUnchanged(f"already on plan {cmd.plan!r}", plan=cmd.plan)
        return (made(PlanDowngradeCancelled, **at, plan=cmd.plan),)
    if terms.credits_per_cycle > state.plan_credits:
        assert state.subscription_lot_id is not None
        return (
            made(
                PlanUpgraded,
                **at,
                from_plan=state.plan,
                to_plan=cmd.plan,
                lot_id=state.subscription_lot_id,
                credits=terms.credits_per_cycle - state.plan_credits,
            ),
        )
    return (
        made(
            PlanDowngradeScheduled,
            **at,
            from_plan=state.plan,
            to_plan=cmd.plan,
            effective_at=state.cycle_end,
        ),
    )


def _save_payment_method(
    cmd: SavePaymentMethod, state: Account, catalog: Catalog, past: Past
) -> Events:
    return (
        made(PaymentMethodSaved, **_caused_by(cmd), last4=cmd.last4, provider_ref=cmd.provider_ref),
    )


def _configure_auto_top_up(
    cmd: ConfigureAutoTopUp, state: Account, catalog: Catalog, past: Past
) -> Events:
    if cmd.package not in catalog.packages:
        raise UnknownPackage(f"no package {cmd.package!r}", package=cmd.package)
    if state.top_up.card_ref is None:
        raise NoPaymentMethod("save a card for automatic top-ups first")
    if state.top_up.card_declined:
        raise NoPaymentMethod("the saved card was declined: save a new card first")
    return (
        made(
            AutoTopUpConfigured,
            **_caused_by(cmd),
            threshold_credits=cmd.threshold_credits,
            package=cmd.package,
            max_per_month=cmd.max_per_month,
        ),
    )


def _disable_auto_top_up(
    cmd: DisableAutoTopUp, state: Account, catalog: Catalog, past: Past
) -> Events:
    return (made(AutoTopUpDisabled, **_caused_by(cmd), reason="account"),)


def _record_top_up_failure(
    cmd: RecordTopUpFailure, state: Account, catalog: Catalog, past: Past
) -> Events:
    """A declined charge: retried (``top_up_due``, after the backoff) until the last attempt,
    which turns automatic top-ups off until a new card is saved."""
    if cmd.request_id != state.top_up.in_flight:
        raise TopUpNotInFlight(
            f"top-up {cmd.request_id!r} is not being charged", request_id=cmd.request_id
        )
    attempt = state.top_up.failures + 1
    failed = made(
        TopUpFailed,
        **_caused_by(cmd),
        request_id=cmd.request_id,
        attempt=attempt,
        reason=cmd.reason,
    )
    if attempt < MAX_TOP_UP_ATTEMPTS:
        return (failed,)
    return (made(AutoTopUpDisabled, **_caused_by(cmd), reason="card_declined"), failed)


def _tool(catalog: Catalog, tool: str) -> ToolPrice:
    if (price := catalog.tools.get(tool)) is None:
        raise UnknownTool(f"no tool {tool!r} in catalog version {catalog.version}", tool=tool)
    return price


def _plan(catalog: Catalog, plan: str) -> PlanTerms:
    if (terms := catalog.plans.get(plan)) is None:
        raise UnknownPlan(f"no plan {plan!r}", plan=plan)
    return terms


def _require_opened(state: Account) -> None:
    if not state.opened:
        raise UnknownAccount("this account has no plan, package or granted credits")


def _open_hold(state: Account, past: Past, hold_id: str) -> Hold:
    if (hold := state.holds.get(hold_id)) is not None:
        return hold
    closed = past.recall(hold_key(hold_id))
    if closed is None:
        raise UnknownHold(f"no hold {hold_id!r}", hold_id=hold_id)
    status = _CLOSED.get(type(closed), "open")
    raise HoldNotOpen(f"hold {hold_id!r} is already {status}", hold_id=hold_id, status=status)


def _split(draws: Iterable[Draw], credits: int) -> tuple[tuple[Draw, ...], tuple[Draw, ...]]:
    """The first ``credits`` of ``draws`` (in drawdown order) and the rest."""
    charged: list[Draw] = []
    rest: list[Draw] = []
    for draw in draws:
        part = min(draw.credits, credits)
        credits -= part
        if part:
            charged.append(draw.model_copy(update={"credits": part}))
        if draw.credits - part:
            rest.append(draw.model_copy(update={"credits": draw.credits - part}))
    return tuple(charged), tuple(rest)


def _caused_by(cmd: Command) -> dict[str, Any]:
    """The fields every event takes from the command that caused it."""
    return {"command_id": cmd.command_id, "occurred_at": cmd.occurred_at}


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


_CLOSED = {HoldSettled: "settled", HoldReleased: "released", HoldExpired: "expired"}

# The command each decision event answers (a refusal names its own), so a repeat of a command
# id is answered as the command that was first decided under it, whatever the repeat says.
ANSWERS: dict[type[LedgerEvent], type[Command]] = {
    CycleStarted: CycleRenewed,
    PackagePurchased: BuyPackage,
    PurchaseReversed: BuyPackage,
    PackagePartlyRefunded: RefundPackage,
    PaymentParked: BuyPackage,
    ToolUsed: UseTool,
    CreditsReserved: ReserveCredits,
    HoldSettled: SettleHold,
    HoldReleased: ReleaseHold,
    UsageRefunded: RefundUsage,
    CreditsGranted: GrantCredits,
    PackageRefunded: RefundPackage,
    PaymentReversed: RefundPackage,
    PackageRestored: RestorePackage,
    PlanUpgraded: ChangePlan,
    PlanDowngradeScheduled: ChangePlan,
    PlanDowngradeCancelled: ChangePlan,
    ExpiryChecked: ExpireHolds,
    PaymentMethodSaved: SavePaymentMethod,
    AutoTopUpConfigured: ConfigureAutoTopUp,
    AutoTopUpDisabled: DisableAutoTopUp,
    TopUpFailed: RecordTopUpFailure,
}


def answered(outcome: DecisionEvent) -> str:
    """The type of the command a decision answered."""
    name = _ANSWERED.get(type(outcome))  # by type: this runs for every outcome
    return outcome.command_type if name is None else name  # type: ignore[union-attr]


# The name of each command a decision event answers; a refusal names its own.
_ANSWERED = {event: command.__name__ for event, command in ANSWERS.items()}


_RULES: dict[type[Command], Rule] = {
    UseTool: _use_tool,
    BuyPackage: _buy_package,
    CycleRenewed: _cycle_renewed,
    ReserveCredits: _reserve_credits,
    SettleHold: _settle_hold,
    ReleaseHold: _release_hold,
    ExpireHolds: _expire_holds,
    RefundUsage: _refund_usage,
    GrantCredits: _grant_credits,
    RefundPackage: _refund_package,
    RestorePackage: _restore_package,
    ChangePlan: _change_plan,
    SavePaymentMethod: _save_payment_method,
    ConfigureAutoTopUp: _configure_auto_top_up,
    DisableAutoTopUp: _disable_auto_top_up,
    RecordTopUpFailure: _record_top_up_failure,
}
