"""Settings for every Kalema Credits process: the only place that reads the environment.

Every variable has the ``KALEMA_`` prefix and a development default that works with the
README's run command (Kafka on 127.0.0.1:9092, SQLite in ``.cache/``).
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from events import topics

REPO = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KALEMA_", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client connects; ``services.kafka_security`` turns these into client
    arguments. SASL_SSL with SCRAM in production; PLAINTEXT on a developer's loopback."""
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
    ledger_batch_max_records: int = 500
    ledger_batch_wait_ms: int = 100
    ledger_catch_up_ms: int = Field(3, ge=0)
    ledger_cache_accounts: int = 50_000
    ledger_session_timeout_ms: int = 10_000
    ledger_max_clock_skew_s: int = Field(300, ge=0)
    """A command stamped further than this ahead of its Kafka record's timestamp is refused."""

    ledger_chain_key: SecretStr = SecretStr("")
    """Key of the event hash chain (HMAC-SHA256); empty: plain SHA-256 (``ledger.chain``)."""
    ledger_chain_keyed_since: datetime | None = None
    """When the chain key was introduced: an unkeyed event dated at or after it is tampering."""

    event_store: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = REPO / ".cache" / "ledger.sqlite"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "kalema"
    postgres_user: str = "kalema"
    postgres_password: str = "kalema"
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
        key = self.ledger_chain_key.get_secret_value()
        return key.encode() if key else None

    def postgres_dsn(self) -> str:
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )
