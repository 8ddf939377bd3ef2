"""HTTP bodies to commands, and outcomes to HTTP statuses."""

from datetime import UTC, datetime

from events.commands import ReserveCredits, UseTool
from events.outcomes import BalanceFigures, Outcome
from services.api import commands, errors
from services.api.command_routes import BODIES
from services.api.logs import redact
from tests.unit.core.scenario import CATALOG

NOW = datetime(2026, 11, 25, tzinfo=UTC)
ToolUse, Reservation = BODIES[UseTool], BODIES[ReserveCredits]


def test_the_same_idempotency_key_is_the_same_command_and_never_another_accounts():
    body = ToolUse(tool="meta_description")

    first = body.to_command("acct-a", "key-1", NOW)
    retry = body.to_command("acct-a", "key-1", NOW)
    other = body.to_command("acct-b", "key-1", NOW)

    assert first.command_id == retry.command_id != other.command_id
    assert len(first.command_id) <= 128 and first.occurred_at == NOW


def test_a_body_becomes_its_command_stamped_with_the_account_key_and_time():
    reservation = Reservation(hold_id="job-1", tool="image_generation", units=2, expires_at=NOW)

    command = reservation.to_command("acct-a", "k", NOW)

    assert (command.type, command.account_id, command.occurred_at) == (
        "ReserveCredits",
        "acct-a",
        NOW,
    )
    assert command.command_id == commands.command_id("acct-a", "k")


def test_a_body_its_command_refuses_is_invalid_request():
    both = Reservation(
        hold_id="job-1", tool="image_generation", units=2, credits=80, expires_at=NOW
    )

    try:
        both.to_command("acct-a", "k", NOW)
    except errors.ApiError as answer:
        assert (answer.status, answer.problem.code) == (422, "invalid_request")
        assert answer.problem.errors
    else:
        raise AssertionError("units and credits together were accepted")


def test_a_request_fingerprint_names_its_method_path_and_parsed_body():
    tool = ToolUse(tool="x")
    one = commands.fingerprint("POST", "/accounts/a/tool-uses", tool)

    assert one == commands.fingerprint("POST", "/accounts/a/tool-uses", ToolUse(tool="x"))
    assert one == commands.fingerprint("POST", "/accounts/a/tool-uses", ToolUse(tool="x", units=1))
    assert one != commands.fingerprint("POST", "/accounts/a/packages", tool)
    assert one != commands.fingerprint("PUT", "/accounts/a/tool-uses", tool)
    assert one != commands.fingerprint("POST", "/accounts/a/tool-uses", ToolUse(tool="y"))


def test_names_the_catalog_does_not_know_are_refused_at_the_edge():
    tool = commands.unknown_item(CATALOG, tool="mind_reading")
    package = commands.unknown_item(CATALOG, package="huge")

    assert (tool.status, tool.problem.code) == (422, "unknown_tool")
    assert (package.status, package.problem.code) == (422, "unknown_package")
    assert commands.unknown_item(CATALOG, tool="meta_description", package="small") is None


def refusal(code: str, **details: int) -> Outcome:
    return Outcome(
        command_id="c-1",
        account_id="acct-a",
        command_type="UseTool",
        status="refused",
        code=code,
        message="Insufficient Credits" if code == "insufficient_credits" else code,
        details=details,
        balance=BalanceFigures(subscription=10, purchased=30, granted=0, held=0, total=40),
    )


def test_insufficient_credits_is_402_with_the_figures_and_the_balance():
    answer = errors.refused(refusal("insufficient_credits", required=50, available=40))

    assert answer.status == 402
    assert answer.problem.message == "Insufficient Credits"
    assert answer.problem.details == {"required": 50, "available": 40}
    assert answer.problem.balance.total == 40 and answer.problem.command_id == "c-1"


def test_other_refusals_are_404_422_or_409_by_what_they_mean():
    statuses = {
        code: errors.refused(refusal(code)).status
        for code in (
            "unknown_account",
            "unknown_tool",
            "unknown_package",
            "schema_violation",
            "duplicate_payment",
            "no_subscription",
            "a_code_added_later",
        )
    }

    assert statuses == {
        "unknown_account": 404,
        "unknown_tool": 422,
        "unknown_package": 422,
        "schema_violation": 422,
        "duplicate_payment": 409,
        "no_subscription": 409,
        "a_code_added_later": 409,
    }


def test_a_token_in_a_logged_url_is_redacted():
    assert redact("GET /?token=s3cret&x=1") == "GET /?token=REDACTED&x=1"
    assert redact("/?x=1&access_token=abc#y") == "/?x=1&access_token=REDACTED#y"
    assert redact("/accounts/acct-a/balance") == "/accounts/acct-a/balance"
