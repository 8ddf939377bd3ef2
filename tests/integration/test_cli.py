"""The operator's ``credits`` command line on both stores: topics, and the read model's
rebuild, check and lag (with progress bars, which go to stderr and vanish when done)."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app
from services.settings import Settings
from tests.integration.conftest_api import open_account
from tests.integration.conftest_projections import caught_up, folded


def credits(settings: Settings, *args: str) -> tuple[int, str]:
    env = {
        "KALEMA_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KALEMA_TOPIC_PREFIX": settings.topic_prefix,
        "KALEMA_EVENT_STORE": settings.event_store,
        "KALEMA_SQLITE_PATH": str(settings.sqlite_path),
        "KALEMA_POSTGRES_SCHEMA": settings.postgres_schema,
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout


async def test_the_read_model_is_rebuilt_checked_and_its_lag_told(
    ledger, projector, client, store_settings
):
    version = await open_account(client, "acct-cli")
    await folded(projector, "acct-cli", version)  # stored just after its outcome was published
    await caught_up(projector)
    assert credits(store_settings, "read-model", "lag") == (0, "0\n")
    code, out = credits(store_settings, "read-model", "rebuild")
    assert code == 0 and out.startswith("rebuilt 1 accounts up to notification ")
    code, out = credits(store_settings, "read-model", "check")
    assert code == 0 and "read model agrees" in out
    code, out = credits(store_settings, "verify")
    assert (code, out.splitlines()[-1]) == (0, "all accounts verified")


def test_topics_are_created_and_named(store_settings):
    code, out = credits(store_settings, "topics")
    assert code == 0
    assert f"{store_settings.topic_prefix}.commands" in out.splitlines()
