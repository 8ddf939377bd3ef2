"""Bearer tokens: each has one scope; an account's token sees and acts on that account only."""

from pydantic import SecretStr

from services.api.auth import authenticate, may_access, may_act
from services.api.settings import ApiSettings

SETTINGS = ApiSettings(
    api_service_tokens={SecretStr("svc"): "workers", SecretStr("bill"): "billing"},
    api_account_tokens={SecretStr("tok-a"): "acct-a", SecretStr("tok-b"): "acct-b"},
    payments_webhook_secret=SecretStr("whsec_unit"),
    payments_test_provider=False,
)


def test_an_account_token_stands_for_its_account_and_a_service_token_for_its_scope():
    account = authenticate("tok-a", SETTINGS)
    workers = authenticate("svc", SETTINGS)

    assert account is not None and (account.scope, account.account_id) == ("account", "acct-a")
    assert workers is not None and (workers.scope, workers.account_id) == ("workers", None)
    assert account.token_id != workers.token_id and "tok-a" not in account.token_id


def test_no_token_an_unknown_token_or_a_prefix_of_one_stands_for_no_one():
    assert [authenticate(t, SETTINGS) for t in (None, "", "tok", "tok-a ", "TOK-A", "é")] == [
        None
    ] * 6


def test_an_account_sees_itself_only_and_an_internal_caller_sees_every_account():
    account, billing = authenticate("tok-a", SETTINGS), authenticate("bill", SETTINGS)
    assert account is not None and billing is not None

    assert may_access(account, "acct-a") and not may_access(account, "acct-b")
    assert may_access(billing, "acct-b")


def test_a_command_needs_a_scope_it_allows_and_an_account_acts_on_itself_only():
    account, billing = authenticate("tok-a", SETTINGS), authenticate("bill", SETTINGS)
    assert account is not None and billing is not None

    assert may_act(account, "acct-a", frozenset({"account", "workers"}))
    assert not may_act(account, "acct-b", frozenset({"account", "workers"}))
    assert not may_act(account, "acct-a", frozenset({"billing"}))
    assert may_act(billing, "acct-b", frozenset({"billing"}))
    assert not may_act(billing, "acct-b", frozenset({"workers"}))


def test_tokens_and_the_webhook_secret_never_show_in_the_settings_printout():
    printed = f"{SETTINGS!r} {SETTINGS} {SETTINGS.model_dump()}"

    assert "tok-a" not in printed and "svc" not in printed and "whsec_unit" not in printed
    assert "acct-a" in printed and "workers" in printed  # who has a token is not a secret


def test_the_printed_page_address_carries_the_public_development_token_only():
    assert ApiSettings().page_url() == "http://127.0.0.1:8000/#token=dev-token-acct-demo"
    assert SETTINGS.page_url() == "http://127.0.0.1:8000/#token=<an account token>"
