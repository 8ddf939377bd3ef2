"""Every Kafka client over SASL/SCRAM-SHA-512, against a real broker of this test's own (the
shared one on 9092 is never reconfigured): ``scripts/kafka.sh`` starts it in a temporary
directory with a SCRAM listener and the user written into its storage, and stops it after.

The topics admin, the ledger's FastStream consumer, the ``LedgerClient``, the projector's
producer and the API's balances feed all connect with the credentials from the settings; a
wrong password or no SASL at all is refused by the broker."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from events.commands import CycleRenewed
from services.api.feed import BalanceFeed
from services.api.hub import BalanceHub
from services.ledger.client import LedgerClient
from services.settings import REPO, Settings
from services.topics import ensure_topics
from tests.conftest import running_ledger
from tests.integration.conftest_api import NOW
from tests.integration.conftest_projections import running_projector

USER, PASSWORD = "kalema-test", "scram-" + uuid.uuid4().hex[:12]
SCRIPT = REPO / "scripts" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of its own with a SCRAM listener; its address. The jars are the cached ones
    (fetched first if this machine has none yet)."""
    jars = REPO / ".cache" / "kafka" / "lib"
    if not jars.is_dir():
        subprocess.run([str(SCRIPT), "fetch"], check=True)
    home = tmp_path_factory.mktemp("scram-kafka")
    (home / "lib").symlink_to(jars.resolve())
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_HOME_DIR": str(home),
        "KAFKA_PORT": str(free_port()),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_SCRAM_PORT": str(port),
        "KAFKA_SCRAM_USER": USER,
        "KAFKA_SCRAM_PASSWORD": PASSWORD,
    }
    subprocess.run([str(SCRIPT), "start"], check=True, env=env, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(SCRIPT), "stop"], check=False, env=env, timeout=60)


def scram_settings(address: str, tmp_path: Path, password: str = PASSWORD) -> Settings:
    name = f"scram{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap_servers=address,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username=USER,
        kafka_sasl_password=SecretStr(password),
        topic_prefix=f"test.{name}",
        sqlite_path=tmp_path / "ledger.sqlite",
        ledger_group_id=f"ledger-{name}",
    )


async def test_every_kafka_client_authenticates_with_scram_and_a_command_goes_end_to_end(
    scram_broker, tmp_path
):
    settings = scram_settings(scram_broker, tmp_path)
    await ensure_topics(settings)  # the admin client
    hub = BalanceHub(10)
    feed = BalanceFeed(settings, hub)  # the API's consumer
    async with running_ledger(settings), running_projector(settings):
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
            update = await stream.next(timeout_s=30)  # published by the projector
        finally:
            await feed.stop()

    assert outcome.status == "accepted" and outcome.balance.total == 980
    assert update is not None and (update.account_id, update.total) == ("acct-s", 980)


@pytest.mark.parametrize("how", ["wrong password", "no SASL"])
async def test_a_client_without_the_right_credentials_is_refused(scram_broker, tmp_path, how):
    settings = scram_settings(scram_broker, tmp_path, password="not-the-password")
    if how == "no SASL":
        settings = settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})

    with pytest.raises(KafkaConnectionError):
        async with asyncio.timeout(60), LedgerClient(settings):
            pass
