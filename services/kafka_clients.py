"""Every Kafka client of ours is built here, from the settings, in one place.

``producer``, ``consumer`` and ``admin`` build aiokafka's clients and ``broker`` FastStream's
``KafkaBroker``; each is given the bootstrap servers and the connection's security from the
settings, so no client can be left connecting in the clear while the others do not (a test
scans the source tree for any other construction). SCRAM (SHA-512 by default) sends no
password over the wire, only a proof, and SASL_SSL adds TLS (server verified against
``KALEMA_KAFKA_SSL_CAFILE`` or the system's CAs; a client certificate for mutual TLS if one is
given). ``client_security`` and ``broker_security`` are the arguments themselves.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from services.settings import Settings

Sasl = type[SASLPlaintext] | type[SASLScram256] | type[SASLScram512]
_SASL: dict[str, Sasl] = {
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
    "PLAIN": SASLPlaintext,
}


def producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    """An aiokafka producer on the settings' cluster; ``options`` are aiokafka's own."""
    return AIOKafkaProducer(**_connection(settings), **options)


def consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer on the settings' cluster (subscribed to ``topics`` if named)."""
    return AIOKafkaConsumer(*topics, **_connection(settings), **options)


def admin(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    """An aiokafka admin client on the settings' cluster."""
    return AIOKafkaAdminClient(**_connection(settings), **options)


def broker(settings: Settings, **options: Any) -> KafkaBroker:
    """FastStream's broker on the settings' cluster; ``options`` are ``KafkaBroker``'s own."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers, security=broker_security(settings), **options
    )


def _connection(settings: Settings) -> dict[str, Any]:
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **client_security(settings)}


def client_security(settings: Settings) -> dict[str, Any]:
    """aiokafka's connection arguments (``security_protocol``, ``sasl_*``, ``ssl_context``)."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = _ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return kwargs


def broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's ``security=`` for the same connection (None: plaintext)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return _SASL[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
    )
    return context
