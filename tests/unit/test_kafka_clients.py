"""The Kafka security arguments every client gets from the settings, and the one place that
builds Kafka clients."""

from __future__ import annotations

import ast
import ssl

from faststream.kafka.security import parse_security
from pydantic import SecretStr

from services.kafka_clients import broker_security, client_security
from services.settings import REPO, Settings

SCRAM = {
    "kafka_sasl_username": "ledger",
    "kafka_sasl_password": SecretStr("pw"),
}


def test_plaintext_on_a_developers_loopback_adds_nothing_but_the_protocol():
    assert client_security(Settings()) == {"security_protocol": "PLAINTEXT"}
    assert broker_security(Settings()) is None


def test_sasl_ssl_gives_every_client_scram_and_a_verifying_tls_context():
    settings = Settings(kafka_security_protocol="SASL_SSL", **SCRAM)

    kwargs = client_security(settings)
    broker = parse_security(broker_security(settings))

    assert kwargs["security_protocol"] == broker["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == broker["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("ledger", "pw")
    assert (broker["sasl_plain_username"], broker["sasl_plain_password"]) == ("ledger", "pw")
    for context in (kwargs["ssl_context"], broker["ssl_context"]):
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_plaintext_and_tls_alone_are_what_they_say():
    sasl = client_security(
        Settings(
            kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-256", **SCRAM
        )
    )
    tls = client_security(Settings(kafka_security_protocol="SSL"))

    assert "ssl_context" not in sasl and sasl["sasl_mechanism"] == "SCRAM-SHA-256"
    assert "sasl_mechanism" not in tls and isinstance(tls["ssl_context"], ssl.SSLContext)
    assert (
        parse_security(broker_security(Settings(kafka_security_protocol="SSL")))[
            "security_protocol"
        ]
        == "SSL"
    )


def test_the_kafka_password_never_shows_in_the_settings_printout():
    settings = Settings(kafka_security_protocol="SASL_SSL", **SCRAM)

    assert "pw'" not in f"{settings!r} {settings.model_dump()}"


CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "KafkaBroker"}
FACTORY = REPO / "services" / "kafka_clients.py"
PACKAGES = ("services", "projections", "events", "examples", "reliability", "benchmarks")


def built_elsewhere() -> list[str]:
    """Every call to (or subclass of) a Kafka client class outside the factory module."""
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path == FACTORY:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    named = [node.func]
                elif isinstance(node, ast.ClassDef):
                    named = list(node.bases)
                else:
                    continue
                for name in named:
                    called = name.attr if isinstance(name, ast.Attribute) else None
                    called = name.id if isinstance(name, ast.Name) else called
                    if called in CLIENTS:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno} {called}")
    return found


def test_no_code_path_builds_a_kafka_client_but_through_the_factory():
    assert built_elsewhere() == []
