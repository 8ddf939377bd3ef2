"""Every Kafka client over SASL/SCRAM-SHA-512, in the clear and over TLS, against a real broker
of this test's own (the shared one on 9092 is never reconfigured): ``infra/kafka.sh`` starts
it in a temporary directory with a SASL_PLAINTEXT and a SASL_SSL listener (a throwaway CA and
broker certificate made with ``openssl``) and the user written into its storage, and stops it
after.

The topics admin, the ledger's FastStream consumer, the ``LedgerClient``, the projector's
producer, the API's balances feed and the clock's producer and consumer all connect with the
credentials from the settings; a wrong password, no SASL at all, or a broker certificate from
an untrusted CA is refused."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from events.balances import BalanceUpdated
from events.commands import CycleRenewed
from services import observability
from services.api.feed import BalanceFeed
from services.api.hub import BalanceHub, Subscription
from services.client import LedgerClient
from services.settings import REPO, Settings
from services.topics import ensure_topics
from tests.conftest import running_ledger
from tests.integration.conftest_api import NOW
from tests.integration.conftest_projections import running_projector
from tests.integration.test_clock import cycle, running_clock

USER, PASSWORD = "kalema-test", "scram-" + uuid.uuid4().hex[:12]
SCRIPT = REPO / "infra" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def certificates(directory: Path) -> Path:
    """A CA and a broker certificate for 127.0.0.1 signed by it; the CA's file. The broker's
    key and chain are in ``keystore.pem``."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kalema-test-ca",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )
    chain = (directory / "broker.key").read_text() + (directory / "broker.pem").read_text()
    (directory / "keystore.pem").write_text(chain)
    return directory / "ca.pem"


@dataclass(frozen=True)
class ScramBroker:
    plaintext: str  # SASL_PLAINTEXT address
    tls: str  # SASL_SSL address
    ca: Path


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScramBroker]:
    """A broker of its own with SCRAM listeners, in the clear and over TLS. The jars are the
    cached ones (fetched first if this machine has none yet)."""
    jars = REPO / ".cache" / "kafka" / "lib"
    if not jars.is_dir():
        subprocess.run([str(SCRIPT), "fetch"], check=True)
    home = tmp_path_factory.mktemp("scram-kafka")
    (home / "lib").symlink_to(jars.resolve())
    ca = certificates(home)
    port, tls_port = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_HOME_DIR": str(home),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_SCRAM_PORT": str(port),
        "KAFKA_SCRAM_USER": USER,
        "KAFKA_SCRAM_PASSWORD": PASSWORD,
        "KAFKA_SASL_SSL_PORT": str(tls_port),
        "KAFKA_SSL_PEM": str(home / "keystore.pem"),
    }
    subprocess.run([str(SCRIPT), "start"], check=True, env=env, timeout=180)
    try:
        yield ScramBroker(f"127.0.0.1:{port}", f"127.0.0.1:{tls_port}", ca)
    finally:
        subprocess.run([str(SCRIPT), "stop"], check=False, env=env, timeout=60)


async def next_update(stream: Subscription, timeout_s: float = 30) -> BalanceUpdated | None:
    """The stream's next balance, past its heartbeats (``next`` returns None for a beat, and
    the first stream of a hub is beaten within a tick of opening); TimeoutError if none came."""
    async with asyncio.timeout(timeout_s):
        while (update := await stream.next()) is None and not stream.closed:
            pass
    return update


def scram_settings(
    broker: ScramBroker,
    tmp_path: Path,
    protocol: str = "SASL_PLAINTEXT",
    password: str = PASSWORD,
    ca: Path | None = None,
) -> Settings:
    name = f"scram{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap_servers=broker.tls if protocol == "SASL_SSL" else broker.plaintext,
        kafka_security_protocol=protocol,  # type: ignore[arg-type]
        kafka_ssl_cafile=ca,
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=USER,
        kafka_sasl_password=SecretStr(password),
        topic_prefix=f"test.{name}",
        sqlite_path=tmp_path / "ledger.sqlite",
        ledger_group_id=f"ledger-{name}",
    )


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
async def test_over_scram_a_command_goes_end_to_end_even_when_a_heartbeat_precedes_its_balance(
    scram_broker, tmp_path, protocol
):
    settings = scram_settings(scram_broker, tmp_path, protocol, ca=scram_broker.ca)
    await ensure_topics(settings)  # the admin client
    hub = BalanceHub(10)
    feed = BalanceFeed(settings, hub)  # the API's consumer
    # A projector polling once a second publishes the balance after the ledger's reply, as a
    # busy CI machine's did: the stream's first heartbeat (within 0.1 s) comes before it.
    slow = {"projector_poll_interval_ms": 1000}
    async with running_ledger(settings), running_projector(settings, **slow):
        await feed.start()
        try:
            stream = hub.subscribe("acct-s")
            async with LedgerClient(settings, timeout_s=30) as client:
                outcome = await client.execute(
                    CycleRenewed(
                        command_id="scram-cycle",
                        account_id="acct-s",
                        occurred_at=NOW,
                        plan="solo",
                        cycle_start=NOW - timedelta(days=1),
                        cycle_end=NOW + timedelta(days=29),
                    )
                )
            update = await next_update(stream)  # published by the projector
        finally:
            await feed.stop()

    assert outcome.status == "accepted" and outcome.balance.total == 980
    assert update is not None and (update.account_id, update.total) == ("acct-s", 980)


async def test_the_clock_and_its_readiness_check_connect_over_sasl_ssl_and_expire_on_time(
    scram_broker, tmp_path
):
    settings = scram_settings(scram_broker, tmp_path, "SASL_SSL", ca=scram_broker.ca)
    await ensure_topics(settings)
    hub = BalanceHub(10)
    feed = BalanceFeed(settings, hub)
    ends = datetime.now(UTC) + timedelta(seconds=3)
    async with (
        running_ledger(settings),
        running_projector(settings),
        running_clock(settings) as clock,  # its producer and consumer over TLS
    ):
        await feed.start()
        try:
            stream = hub.subscribe("acct-c")
            async with LedgerClient(settings, timeout_s=30) as client:
                opened = await client.execute(cycle("acct-c", ends))
            update = await next_update(stream)
            ready = await observability.kafka_answers(settings)()  # the clock's /health/ready
            while update is not None and update.subscription > 0:
                update = await next_update(stream)
        finally:
            await feed.stop()

    assert opened.balance.subscription == 980 and ready
    assert clock.sent == [("acct-c", ends)]
    assert update is not None and (update.account_id, update.subscription) == ("acct-c", 0)


@pytest.mark.parametrize(
    "how", ["wrong password", "no SASL", "wrong password over TLS", "untrusted CA"]
)
async def test_a_client_without_the_right_credentials_or_trust_is_refused(
    scram_broker, tmp_path, how
):
    if how == "untrusted CA":  # the system's CAs do not know the broker's
        settings = scram_settings(scram_broker, tmp_path, "SASL_SSL")
    elif how == "wrong password over TLS":
        settings = scram_settings(scram_broker, tmp_path, "SASL_SSL", "nope", ca=scram_broker.ca)
    else:
        settings = scram_settings(scram_broker, tmp_path, password="not-the-password")
    if how == "no SASL":
        settings = settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})

    with pytest.raises(KafkaConnectionError):
        async with asyncio.timeout(60), LedgerClient(settings):
            pass
