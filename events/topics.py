"""The topic map: every topic the ledger uses, its partitions and configs, declared as data.

Topics are created by ``python -m services.topics`` through Kafka's admin API, never by the
broker's auto-creation. Every message is keyed by ``account_id`` so one account's messages stay
in order on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic by its role; the full name is ``<prefix>.<role>``."""

    role: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)
    about: str = ""

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.role}"


COMMANDS = TopicSpec(
    "commands",
    8,
    {"retention.ms": str(7 * DAY_MS)},
    "commands from AI workers, billing and the web page; key = account_id",
)
OUTCOMES = TopicSpec(
    "outcomes",
    8,
    {"retention.ms": str(1 * DAY_MS)},
    "one outcome per command (accepted or refused); key = account_id",
)
REPLIES = TopicSpec(
    "replies",
    32,
    {"retention.ms": str(1 * DAY_MS)},
    "the outcome of a command that asked for a reply, on the partition it named "
    "(kafka_replyTopic, kafka_replyPartition); each client instance reads only its own",
)
BALANCES = TopicSpec(
    "balances",
    8,
    {
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.1",
        "segment.ms": str(60 * 60 * 1000),
    },
    "latest balance per account (log-compacted); key = account_id",
)
ALERTS = TopicSpec(
    "alerts",
    8,
    {"retention.ms": str(7 * DAY_MS)},
    "low-balance, depleted and expiring-soon alerts; key = account_id",
)
DEAD_LETTERS = TopicSpec(
    "dead-letters",
    1,
    {"retention.ms": str(30 * DAY_MS)},
    "messages the ledger could not read, with the original payload, headers and reason",
)
CHAIN_HEADS = TopicSpec(
    "chain-heads",
    8,
    {
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.1",
        "segment.ms": str(60 * 60 * 1000),
    },
    "each account's latest chain head, signed with the chain key: tamper evidence kept "
    "outside the database (log-compacted); key = account_id",
)
ALL_TOPICS = (COMMANDS, OUTCOMES, REPLIES, BALANCES, ALERTS, DEAD_LETTERS, CHAIN_HEADS)
DEFAULT_PREFIX = "kalema.credits"
