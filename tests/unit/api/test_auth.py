"""Bearer tokens: an account's token sees that account only, the service token sees all."""

from pydantic import SecretStr

from services.api.auth import SERVICE, Caller, authenticate, may_access
from services.api.settings import ApiSettings

SETTINGS = ApiSettings(
    api_service_token=SecretStr("svc"),
    api_account_tokens={SecretStr("tok-a"): "acct-a", SecretStr("tok-b"): "acct-b"},
)


def test_an_account_token_stands_for_its_account_and_the_service_token_for_the_service():
    assert authenticate("tok-a", SETTINGS) == Caller("acct-a")
    assert authenticate("svc", SETTINGS) == SERVICE


def test_no_token_an_unknown_token_or_a_prefix_of_one_stands_for_no_one():
    assert [authenticate(t, SETTINGS) for t in (None, "", "tok", "tok-a ", "TOK-A", "é")] == [
        None
    ] * 6


def test_an_account_sees_itself_only_and_the_service_sees_every_account():
    assert may_access(Caller("acct-a"), "acct-a")
    assert not may_access(Caller("acct-a"), "acct-b")
    assert may_access(SERVICE, "acct-b")


def test_tokens_never_show_in_the_settings_printout():
    printed = f"{SETTINGS!r} {SETTINGS} {SETTINGS.model_dump()}"

    assert "tok-a" not in printed and "svc" not in printed
    assert "acct-a" in printed  # who has a token is not a secret


def test_development_tokens_are_refused_beyond_loopback():
    assert not ApiSettings().dev_tokens_exposed()
    assert not ApiSettings(api_host="localhost").dev_tokens_exposed()
    assert ApiSettings(api_host="0.0.0.0").dev_tokens_exposed()
    assert not SETTINGS.model_copy(update={"api_host": "0.0.0.0"}).dev_tokens_exposed()


def test_the_printed_page_address_carries_the_public_development_token_only():
    assert ApiSettings().page_url() == "http://127.0.0.1:8000/#token=dev-token-acct-demo"
    assert SETTINGS.page_url() == "http://127.0.0.1:8000/#token=<an account token>"
