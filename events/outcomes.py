"""What the ledger answers: one ``Outcome`` per command, and ``DeadLetter`` for unreadable input.

Outcomes are keyed by ``account_id`` on the outcomes topic; a producer waits for the one with
its ``command_id``. A repeated command is answered with its first outcome (``repeat: true``)
and the balance as it is now.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from events.ledger import Draw
from events.refusals import Detail


class Figures(Protocol):
    """Anything that has the balance's figures (the core's ``Balance``, a ``BalanceUpdated``)."""

    @property
    def subscription(self) -> int: ...
    @property
    def purchased(self) -> int: ...
    @property
    def granted(self) -> int: ...
    @property
    def held(self) -> int: ...
    @property
    def total(self) -> int: ...


class BalanceFigures(BaseModel):
    """Spendable credits by kind, what holds have set aside, and the sidebar's total."""

    model_config = ConfigDict(frozen=True)

    subscription: int
    purchased: int
    granted: int
    held: int
    total: int

    @classmethod
    def of(cls, figures: Figures) -> BalanceFigures:
        return cls(
            subscription=figures.subscription,
            purchased=figures.purchased,
            granted=figures.granted,
            held=figures.held,
            total=figures.total,
        )


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: str
    account_id: str
    command_type: str
    status: Literal["accepted", "refused"]
    code: str | None = None
    message: str | None = None
    details: dict[str, Detail] = Field(default_factory=dict)  # a {} default: one deepcopy each
    charged: tuple[Draw, ...] = ()
    events: tuple[str, ...] = ()
    balance: BalanceFigures | None = None
    stream_version: int | None = None
    repeat: bool = False


DeadLetterReason = Literal[
    "empty",
    "oversized",
    "undecodable",
    "unknown_command_type",
    "schema_violation",
    "missing_key",
    "key_mismatch",
    "unknown_account",
    "unknown_tool",
    "unknown_package",
    "unknown_plan",
    "internal_error",
]


class DeadLetter(BaseModel):
    """A message the ledger could not act on, with the reason.

    The payload is kept whole up to ``payload_bytes``; a longer one (a command near the
    broker's 1 MB limit would not fit once base64-encoded) keeps its first bytes only,
    ``payload_truncated`` says so, and ``payload_sha256`` still identifies the original.
    A header whose value is null is kept with ``None``.
    """

    model_config = ConfigDict(frozen=True)

    reason: DeadLetterReason
    error: str
    source_topic: str
    partition: int
    offset: int
    key: str | None
    payload_base64: str
    headers: tuple[tuple[str, str | None], ...]
    command_id: str | None = None
    account_id: str | None = None
    payload_bytes: int = 0
    payload_sha256: str = ""
    payload_truncated: bool = False
