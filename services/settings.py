"""Settings for every Kalema Credits process: the only place that reads the environment.

Every variable has the ``KALEMA_`` prefix and a development default that works with the
README's run command (Kafka on 127.0.0.1:9092, SQLite in ``.cache/``). With
``KALEMA_ENVIRONMENT=production`` every service refuses to start while a development default
that is unsafe beyond a developer's machine is left in (``lab_settings``, ``services.going_live``).
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events import topics
from services.ledger import chain

REPO = Path(__file__).resolve().parent.parent
DEV_POSTGRES_PASSWORD = "kalema"  # infra/postgres.sh and compose.yaml create it


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KALEMA_", frozen=True)

    environment: Literal["development", "production"] = "development"
    """``production`` refuses the lab settings at start; ``development`` (``make run``) warns."""
    native: bool = True
    """Run the credit rules and the projector's folds compiled, when ``make native`` has built
    them from the sources on disk (``services/native.py`` reads it as the process starts,
    before any settings are loaded); false runs them as Python."""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client connects (``services.kafka_clients`` builds every client with it).
    SASL_SSL with SCRAM in production; PLAINTEXT on a developer's loopback."""
    kafka_allow_plaintext: bool = False
    """Accept PLAINTEXT in production: say so only when the network to the brokers is private."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = None
    """The CA that signed the brokers' certificates (None: the system's trust store)."""
    kafka_ssl_certfile: Path | None = None
    """A client certificate, for brokers that require mutual TLS."""
    kafka_ssl_keyfile: Path | None = None
    topic_prefix: str = topics.DEFAULT_PREFIX
    max_message_bytes: int = 64 * 1024
    replies_partitions: int = topics.REPLIES.partitions
    """Partitions of the replies topic when it is created: each live client instance holds at
    least one of its own, so have more than the instances that run at once."""

    ledger_group_id: str = "kalema-ledger"
    ledger_batch_max_records: int = Field(5000, gt=0)
    """The most commands one batch decides, under a backlog (a flood, a restart): each batch
    has a fixed cost (a decision pass, a commit, a round of acknowledgements, the projector's
    page after it). End to end, 2,000 commands a batch rather than 500 cut a command's CPU
    by about a seventh in the ledger and a fifth in the projector, and 5,000 by a further 4
    to 9 % and 11 to 15 % (BENCHMARKS.md, issue 26). The first command of a full batch
    waits for the whole batch, about 0.25 s of CPU, and the ledger holds about 25 MB more.
    A steady stream's batches are cut far smaller by ``ledger_batch_min_bytes`` and the
    linger."""
    ledger_batch_wait_ms: int = 100
    ledger_catch_up_ms: int = Field(3, ge=0)
    ledger_batch_linger_ms: int = Field(10, ge=0, le=5000)
    ledger_batch_min_bytes: int = Field(16 * 1024, ge=1)
    """A batch is decided once it holds ``ledger_batch_min_bytes`` of commands or
    ``ledger_batch_linger_ms`` have passed, as a producer's ``linger.ms`` fills a record batch:
    the broker holds the ledger's fetch that long (Kafka's ``fetch.min.bytes`` and
    ``fetch.max.wait.ms``), and a batch handed over with more than one command goes on taking
    what arrives that long. Each batch has a fixed cost (a decision pass, a round of
    acknowledgements, a commit, the projector's page after it), which a steady trickle paid
    for a few commands at a time. A lone command waits for the broker's hold at most
    (0 ms: off; BENCHMARKS.md, issue 26)."""
    ledger_cache_accounts: int = 50_000
    ledger_session_timeout_ms: int = 10_000
    ledger_max_clock_skew_s: int = Field(300, ge=0)
    """A command stamped further than this ahead of its Kafka record's timestamp is refused."""

    ledger_chain_key: SecretStr = SecretStr("")
    """Key of the event hash chain (HMAC-SHA256), id ``default``; empty: plain SHA-256."""
    ledger_chain_keys: dict[Annotated[str, Field(pattern=chain.KEY_ID_PATTERN)], SecretStr] = {}
    """More chain keys by id (``{"2027-01": "<secret>"}``): old keys stay to verify the links
    they made (``ledger.chain``)."""
    ledger_chain_key_id: str = chain.DEFAULT_KEY_ID
    """The id of the key that signs new links and chain-head checkpoints."""
    ledger_chain_keyed_since: datetime | None = None
    """When the chain key was introduced: an unkeyed event dated at or after it is tampering."""

    event_store: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = REPO / ".cache" / "ledger.sqlite"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "kalema"
    postgres_user: str = "kalema"
    postgres_password: SecretStr = SecretStr(DEV_POSTGRES_PASSWORD)
    postgres_schema: str = "public"

    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_host: str = "127.0.0.1"
    ledger_metrics_port: int = 9101
    projector_metrics_port: int = 9102
    clock_metrics_port: int = 9103

    @cached_property
    def topic(self) -> dict[str, str]:
        """Full topic names by role, e.g. ``settings.topic["commands"]``."""
        return {spec.role: spec.name(self.topic_prefix) for spec in topics.ALL_TOPICS}

    def chain_key(self) -> bytes | None:
        """The secret of the key that signs new links, if the chain is keyed."""
        signing = self.chain_signing_key()
        return signing[1] if signing else None

    def chain_keys(self) -> dict[str, bytes]:
        """The key ring: every chain key by id."""
        ring = {k: v.get_secret_value().encode() for k, v in self.ledger_chain_keys.items()}
        if self.ledger_chain_key.get_secret_value():
            ring[chain.DEFAULT_KEY_ID] = self.ledger_chain_key.get_secret_value().encode()
        return {key_id: secret for key_id, secret in ring.items() if secret}

    def chain_signing_key(self) -> chain.SigningKey | None:
        """The id and secret that sign new links (None: the chain is plain SHA-256)."""
        ring = self.chain_keys()
        return (self.ledger_chain_key_id, ring[self.ledger_chain_key_id]) if ring else None

    @model_validator(mode="after")
    def _signing_key_is_in_the_ring(self) -> Settings:
        ring = self.chain_keys()
        if ring and self.ledger_chain_key_id not in ring:
            raise ValueError(
                f"KALEMA_LEDGER_CHAIN_KEY_ID {self.ledger_chain_key_id!r} names no chain key"
            )
        if self.ledger_chain_key.get_secret_value() and chain.DEFAULT_KEY_ID in (
            self.ledger_chain_keys
        ):
            raise ValueError("the default chain key is given twice")
        return self

    def postgres_dsn(self) -> str:
        """libpq's ``key=value`` connection string, each value quoted as libpq needs (a
        password may hold any character)."""
        return make_conninfo(
            "",
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=self.postgres_password.get_secret_value(),
        )

    def postgres_where(self) -> str:
        """The database to name in a log line (no user, no password)."""
        return f"{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"

    def lab_settings(self) -> list[str]:
        """The development defaults still in these settings that production refuses, each
        naming its variable (``services.going_live``)."""
        found = []
        if not self.chain_keys():
            found.append(
                "KALEMA_LEDGER_CHAIN_KEY is empty and KALEMA_LEDGER_CHAIN_KEYS names no key "
                "(the event hash chain is unkeyed)"
            )
        postgres = self.event_store == "postgres"
        if postgres and self.postgres_password.get_secret_value() == DEV_POSTGRES_PASSWORD:
            found.append("KALEMA_POSTGRES_PASSWORD is the development default")
        if self.kafka_security_protocol == "PLAINTEXT" and not self.kafka_allow_plaintext:
            found.append(
                "KALEMA_KAFKA_SECURITY_PROTOCOL is PLAINTEXT (KALEMA_KAFKA_ALLOW_PLAINTEXT=true "
                "if the network to the brokers is private)"
            )
        return found
