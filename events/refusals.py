"""Typed refusals: every way the credit rules can say no.

A refusal is an answer, not a crash: the core raises one, the ledger records it as a
``CommandRefused`` event and returns it as the command's outcome; the client raises it again.
"""

from __future__ import annotations

from typing import ClassVar

Detail = int | str | None


class Refusal(Exception):
    """Base of every refusal; ``code`` is stable on the wire, ``message`` is for people."""

    code: ClassVar[str] = "refused"

    def __init__(self, message: str, **details: Detail) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Detail] = details


class InsufficientCredits(Refusal):
    """Too few spendable credits; nothing was deducted."""

    code = "insufficient_credits"

    def __init__(
        self, *, required: int, available: int, subscription: int, purchased: int, granted: int
    ) -> None:
        super().__init__(
            "Insufficient Credits",
            required=required,
            available=available,
            subscription=subscription,
            purchased=purchased,
            granted=granted,
        )


class UnknownAccount(Refusal):
    code = "unknown_account"


class UnknownTool(Refusal):
    code = "unknown_tool"


class UnknownPackage(Refusal):
    code = "unknown_package"


class UnknownPlan(Refusal):
    code = "unknown_plan"


class UnknownHold(Refusal):
    code = "unknown_hold"


class HoldNotOpen(Refusal):
    code = "hold_not_open"


class DuplicateHold(Refusal):
    code = "duplicate_hold"


class UnknownUsage(Refusal):
    code = "unknown_usage"


class AlreadyRefunded(Refusal):
    code = "already_refunded"


class DuplicatePayment(Refusal):
    code = "duplicate_payment"


class PaymentAlreadyUsed(Refusal):
    """The payment already bought a package for another account: one payment, one package."""

    code = "payment_already_used"


class UnknownPayment(Refusal):
    code = "unknown_payment"


class NotDisputed(Refusal):
    """A dispute won for a payment that was not charged back (a refund is not undone)."""

    code = "not_disputed"


class DisputeAlreadyWon(Refusal):
    """A chargeback whose dispute was already recorded as won: it removes nothing."""

    code = "dispute_already_won"


class NoPaymentMethod(Refusal):
    """Automatic top-ups need a saved card that has not been declined."""

    code = "no_payment_method"


class TopUpNotInFlight(Refusal):
    code = "top_up_not_in_flight"


class StaleCycle(Refusal):
    code = "stale_cycle"


class NoSubscription(Refusal):
    code = "no_subscription"


class PlanUnchanged(Refusal):
    code = "plan_unchanged"


class InvalidAmount(Refusal):
    code = "invalid_amount"


class InvalidCommand(Refusal):
    """Well-formed on the wire but meaningless to the ledger (say, an expiry in the past)."""

    code = "invalid_command"


class ClockSkew(Refusal):
    """Stamped further ahead of its arrival at the broker than producers' clocks may be: one
    command from a clock set years ahead would otherwise move the account's time there."""

    code = "clock_skew"


REFUSALS: dict[str, type[Refusal]] = {
    cls.code: cls
    for cls in (
        UnknownAccount,
        UnknownTool,
        UnknownPackage,
        UnknownPlan,
        UnknownHold,
        HoldNotOpen,
        DuplicateHold,
        UnknownUsage,
        AlreadyRefunded,
        DuplicatePayment,
        PaymentAlreadyUsed,
        UnknownPayment,
        NotDisputed,
        DisputeAlreadyWon,
        StaleCycle,
        NoSubscription,
        PlanUnchanged,
        InvalidAmount,
        InvalidCommand,
        ClockSkew,
        NoPaymentMethod,
        TopUpNotInFlight,
    )
}


def refusal_from(code: str, message: str, details: dict[str, Detail]) -> Refusal:
    """Rebuild the typed refusal from its wire form (what the client raises)."""
    if code == InsufficientCredits.code:
        return InsufficientCredits(
            required=int(details.get("required") or 0),
            available=int(details.get("available") or 0),
            subscription=int(details.get("subscription") or 0),
            purchased=int(details.get("purchased") or 0),
            granted=int(details.get("granted") or 0),
        )
    refusal = REFUSALS.get(code, Refusal)(message, **details)
    return refusal
