"""What a payment provider tells us, and what we ask of it.

A checkout carries our account and package as metadata (as Stripe's ``metadata`` does); the
provider echoes them, signed, in its webhook events, so the webhook needs no state of ours.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from events.commands import Identifier
from services.ledger.core.catalog import refunded_credits as refunded_credits  # the ledger's

TOP_UP_PREFIX = "topup-"  # a top-up's request id (services.ledger.core.decide.top_up_request_id)

PaymentEventType = Literal[
    "payment.succeeded",
    "payment.refunded",
    "payment.disputed",
    "payment.dispute_won",
    "payment.failed",
]


def canonical_currency(code: str) -> str:
    """The one form of a currency code inside Kalema: ISO 4217, upper case (the catalog's).
    Stripe writes them in lower case; it is given ``code.lower()`` and read back through this."""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not a currency code: {code!r}")
    return code.upper()


class Order(BaseModel):
    """What the account is about to pay for, at the catalog's price."""

    account_id: Identifier
    package: Identifier
    price_cents: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    return_url: str
    catalog_version: int | None = None
    quote: str | None = None  # signed (``quote.py``): metadata the provider echoes


class Checkout(BaseModel):
    """A purchase started at the provider: the payer goes to ``pay_url``."""

    checkout_id: Identifier
    account_id: Identifier
    package: Identifier
    price_cents: int
    currency: str
    pay_url: str
    status: Literal["open"] = "open"


class Payment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checkout_id: Identifier
    payment_ref: Identifier
    account_id: Identifier
    package: Identifier
    amount_cents: int = Field(ge=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    quote: str | None = Field(None, max_length=200)
    refunded_cents: int | None = Field(None, ge=0)
    """On ``payment.refunded``: how much of ``amount_cents`` has been refunded so far, in all
    (less than ``amount_cents`` for a partial refund). None means all of it."""
    failure_reason: str | None = Field(None, max_length=500)
    """On ``payment.failed``: why, as the provider says it (``card_declined``, say)."""

    @property
    def top_up(self) -> str | None:
        """The automatic top-up this payment was charged for (its request id is the
        checkout's), or None for a purchase at a checkout."""
        return self.checkout_id if self.checkout_id.startswith(TOP_UP_PREFIX) else None


class PaymentEvent(BaseModel):
    """One webhook delivery: ``payment.succeeded`` buys the package; ``payment.refunded`` and
    ``payment.disputed`` (a chargeback) remove what remains of it (a partial refund: the
    credits its share paid for, ``refunded_credits``), in whatever order they come;
    ``payment.dispute_won`` (the chargeback was decided for us) gives back what the chargeback
    removed; ``payment.failed`` (an asynchronous or off-session payment did not go through)
    buys nothing."""

    model_config = ConfigDict(extra="ignore")

    id: Identifier
    type: PaymentEventType
    created: int
    data: Payment


class SavedCard(BaseModel):
    model_config = ConfigDict(extra="ignore")

    account_id: Identifier
    provider_ref: Identifier
    last4: str = Field(pattern=r"^[0-9]{4}$")


class CardEvent(BaseModel):
    """One webhook delivery: ``card.saved``, a card saved at a setup checkout, to be charged
    off-session for automatic top-ups."""

    model_config = ConfigDict(extra="ignore")

    id: Identifier
    type: Literal["card.saved"]
    created: int
    data: SavedCard


class ChargeDeclined(Exception):
    """The provider would not charge the saved card; ``reason`` is its own word for why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CardCharges(Protocol):
    async def charge_saved_card(self, order: Order, payment_method: str, topup_id: str) -> str:
        """Charge the saved card off-session for the order, keyed by ``topup_id`` (asked
        twice, charged once); the payment's reference, or ``ChargeDeclined``."""
        ...


def top_up_failure_id(request_id: str) -> str:
    """The ledger command id of a top-up's failed charge, whoever reports it (the top-up
    process, the provider's webhook): reported twice, decided once."""
    return f"top-up-failed-{request_id}"


class PaymentRecord(Protocol):
    """What a provider says it reported: the record a reconciliation checks the ledger
    against."""

    async def payments(self, since: int) -> list[PaymentEvent]:
        """Every payment event the provider reported from ``since`` (unix seconds) on."""
        ...


class PaymentProvider(PaymentRecord, Protocol):
    async def create_checkout(self, order: Order) -> Checkout: ...

    async def create_card_setup(self, account_id: str, return_url: str) -> str:
        """A page where the account saves a card for automatic top-ups."""
        ...
