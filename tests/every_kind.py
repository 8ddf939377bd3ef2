"""One command of every kind on one account, in an order where each is accepted, with the
account's total balance after it: the list the ledger's and the projector's tests on the real
broker walk through. A new command type missing here fails tests/unit/core/test_type_lists.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from events.commands import (
    BuyPackage,
    ChangePlan,
    Command,
    ConfigureAutoTopUp,
    CycleRenewed,
    DisableAutoTopUp,
    ExpireHolds,
    GrantCredits,
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
from services.ledger.core.decide import top_up_request_id


def every_kind(account: str, now: datetime) -> list[tuple[Command, int]]:
    """The commands, each ``n`` hours after ``now`` (command id ``<account>-<n>``), and the total
    after each."""

    def at(hours: float) -> datetime:
        return now + timedelta(hours=hours)

    def ids(n: int) -> dict[str, Any]:
        return {"command_id": f"{account}-{n}", "account_id": account, "occurred_at": at(n)}

    def hold(n: int, hold_id: str, tool: str, expires_h: int, **amount: int) -> ReserveCredits:
        return ReserveCredits(
            **ids(n), hold_id=hold_id, tool=tool, expires_at=at(expires_h), **amount
        )

    # Three holds: one settled, one released, one left to expire (ExpireHolds). Automatic
    # top-ups at the end: the rule asks for a package at once (5465 < 6000), its charge is
    # declined (a retry is asked), then the rule is turned off.
    declined = top_up_request_id(account, f"{account}-17")
    return [
        (CycleRenewed(**ids(1), plan="solo", cycle_start=at(0), cycle_end=at(24 * 30)), 980),
        (BuyPackage(**ids(2), package="small", payment_ref="pay-1"), 1980),
        (UseTool(**ids(3), tool="article_generation"), 1930),
        (hold(4, "h1", "image_generation", 10, units=2), 1850),
        (SettleHold(**ids(5), hold_id="h1", credits=60), 1870),
        (hold(6, "h2", "image_generation", 8, credits=30), 1840),
        (ReleaseHold(**ids(7), hold_id="h2"), 1870),
        (hold(8, "h3", "keyword_suggestions", 9, units=5), 1865),
        (ExpireHolds(**ids(10)), 1870),
        (RefundUsage(**ids(11), of_command_id=f"{account}-3"), 1920),
        (GrantCredits(**ids(12), credits=25, reason="outage"), 1945),
        (RefundPackage(**ids(13), payment_ref="pay-1", reason="chargeback"), 945),
        (RestorePackage(**ids(14), payment_ref="pay-1"), 1945),
        (ChangePlan(**ids(15), plan="agency"), 5465),
        (SavePaymentMethod(**ids(16), last4="4242", provider_ref="pm_card_visa"), 5465),
        (
            ConfigureAutoTopUp(**ids(17), threshold_credits=6000, package="small", max_per_month=2),
            5465,
        ),
        (RecordTopUpFailure(**ids(18), request_id=declined, reason="card_declined"), 5465),
        (DisableAutoTopUp(**ids(19)), 5465),
    ]
