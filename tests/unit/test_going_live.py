"""Going live: given production settings, when a service starts, then every lab setting left
in is refused with one line naming it, whatever the API's address; development starts and
warns once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from services import going_live
from services.api.app import create_app
from services.api.settings import DEV_ACCOUNT_TOKEN, DEV_WEBHOOK_SECRET, ApiSettings
from services.going_live import LabSettingsRefused, refuse_lab_settings
from services.settings import Settings

LIVE: dict[str, Any] = {
    "environment": "production",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "ledger",
    "kafka_sasl_password": SecretStr("kafka-secret"),
    "ledger_chain_key": SecretStr("chain-secret"),
    "event_store": "postgres",
    "postgres_password": SecretStr("pg-secret"),
    "api_host": "127.0.0.1",
    "api_service_tokens": {SecretStr("svc-live"): "billing"},
    "api_account_tokens": {SecretStr("acct-live"): "acct-a"},
    "payments_webhook_secret": SecretStr("whsec_live"),
    "payments_test_provider": False,
}
LAB: dict[str, tuple[str, Any]] = {  # a variable, and the lab value put back
    "KALEMA_LEDGER_CHAIN_KEY": ("ledger_chain_key", SecretStr("")),
    "KALEMA_POSTGRES_PASSWORD": ("postgres_password", SecretStr("kalema")),
    "KALEMA_KAFKA_SECURITY_PROTOCOL": ("kafka_security_protocol", "PLAINTEXT"),
    "KALEMA_API_SERVICE_TOKENS": (
        "api_service_tokens",
        {SecretStr("dev-billing-token"): "billing"},
    ),
    "KALEMA_API_ACCOUNT_TOKENS": (
        "api_account_tokens",
        {SecretStr(DEV_ACCOUNT_TOKEN): "acct-demo"},
    ),
    "KALEMA_PAYMENTS_WEBHOOK_SECRET": ("payments_webhook_secret", SecretStr(DEV_WEBHOOK_SECRET)),
    "KALEMA_PAYMENTS_QUOTE_KEY": ("payments_quote_key", SecretStr(DEV_WEBHOOK_SECRET)),
    "KALEMA_PAYMENTS_TEST_PROVIDER": ("payments_test_provider", True),
}


def live(**changes: Any) -> ApiSettings:
    return ApiSettings(**(LIVE | changes))


@pytest.fixture(autouse=True)
def _warnings_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(going_live, "_warned", set())


def test_production_with_settings_of_its_own_starts():
    refuse_lab_settings(live())
    refuse_lab_settings(Settings(**{k: v for k, v in LIVE.items() if k in Settings.model_fields}))


@pytest.mark.parametrize("variable", LAB)
@pytest.mark.parametrize("api_host", ["127.0.0.1", "0.0.0.0"])
def test_production_refuses_a_lab_setting_on_any_address_in_one_line_naming_it(variable, api_host):
    field, value = LAB[variable]

    with pytest.raises(LabSettingsRefused) as refused:
        refuse_lab_settings(live(api_host=api_host, **{field: value}))

    message = str(refused.value)
    assert "\n" not in message and variable in message
    assert message.startswith("refusing to start with KALEMA_ENVIRONMENT=production: ")
    assert refused.value.code == message  # uncaught: stderr gets the line, exit status 1


def test_production_refuses_every_lab_default_at_once_and_the_api_factory_too():
    with pytest.raises(LabSettingsRefused) as refused:
        create_app(ApiSettings(environment="production", event_store="postgres"))

    assert [f.split(" ")[0] for f in refused.value.found] == list(LAB)


def test_plaintext_kafka_is_accepted_in_production_when_the_network_is_said_to_be_private():
    refuse_lab_settings(live(kafka_security_protocol="PLAINTEXT", kafka_allow_plaintext=True))


def test_the_postgres_password_matters_only_with_the_postgres_store():
    refuse_lab_settings(live(event_store="sqlite", postgres_password=SecretStr("kalema")))


def test_development_starts_on_the_lab_settings_and_warns_once_naming_them(caplog):
    with caplog.at_level(logging.WARNING, logger="kalema"):
        refuse_lab_settings(ApiSettings())
        refuse_lab_settings(ApiSettings())
        create_app(ApiSettings())

    [warning] = caplog.records
    assert warning.levelno == logging.WARNING
    assert all(
        variable in warning.getMessage()
        for variable in LAB
        if variable != "KALEMA_POSTGRES_PASSWORD"
    )


def test_the_postgres_password_never_shows_in_the_settings_printout():
    settings = Settings(postgres_password="pg-secret")  # as the environment gives it

    assert "pg-secret" not in f"{settings!r} {settings} {settings.model_dump()}"


@pytest.mark.parametrize("password", ["p@ss/w#rd?", "with space", "it's", "back\\slash", "a=b"])
def test_a_postgres_password_with_url_characters_reaches_the_database_intact(password):
    settings = Settings(postgres_password=password, postgres_db="kalema")

    parsed = conninfo_to_dict(settings.postgres_dsn())

    assert parsed["password"] == password
    assert (parsed["host"], parsed["port"], parsed["dbname"], parsed["user"]) == (
        "127.0.0.1",
        "5432",
        "kalema",
        "kalema",
    )
    assert password not in settings.postgres_where()


def test_production_with_stripe_refuses_a_test_mode_key_and_not_the_unused_test_provider_flag():
    stripe = {
        "payments_provider": "stripe",
        "payments_test_provider": True,  # not served when Stripe takes the payments
        "stripe_webhook_secret": SecretStr("whsec_live_endpoint"),
    }
    refuse_lab_settings(live(**stripe, stripe_secret_key=SecretStr("sk_live_abc")))

    with pytest.raises(LabSettingsRefused) as refused:
        refuse_lab_settings(live(**stripe, stripe_secret_key=SecretStr("sk_test_abc")))

    assert [f.split(" ")[0] for f in refused.value.found] == ["KALEMA_STRIPE_SECRET_KEY"]


def test_a_quote_key_of_its_own_signs_quotes_and_without_one_the_webhook_secret_does():
    own = live(payments_quote_key=SecretStr("quotes-only"))

    assert own.quote_key() == "quotes-only"
    assert live().quote_key() == live().payments_webhook_secret.get_secret_value()
