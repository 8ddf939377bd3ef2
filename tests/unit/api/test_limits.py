"""The API's limits: body size before authentication, commands per account, idempotency keys
bound to one request, and streams per token."""

from __future__ import annotations

from services.api.limits import IdempotencyKeys, RateLimiter, StreamQuota
from tests.unit.api.test_app import SETTINGS, client
from tests.unit.core.scenario import ACCOUNT

USE = f"/accounts/{ACCOUNT}/tool-uses"


def test_a_bucket_allows_a_burst_then_the_sustained_rate_and_says_how_long_to_wait():
    limiter = RateLimiter(per_s=2.0, burst=3)

    assert [limiter.take("a", 0.0) for _ in range(3)] == [None] * 3
    assert limiter.take("a", 0.0) == 0.5
    assert limiter.take("b", 0.0) is None  # another account has its own bucket
    assert limiter.take("a", 0.5) is None
    assert limiter.take("a", 0.5) is not None


def test_a_key_remembers_the_request_it_first_named():
    keys = IdempotencyKeys(keys=2)

    assert keys.claim("k1", "use-meta") and keys.claim("k1", "use-meta")
    assert not keys.claim("k1", "buy-large")
    keys.claim("k2", "x"), keys.claim("k3", "y")  # k1 is the oldest: forgotten
    assert keys.claim("k1", "buy-large")


def test_a_token_holds_a_bounded_number_of_streams_and_closing_frees_one():
    quota = StreamQuota(per_token=2)

    assert quota.open("t") and quota.open("t") and not quota.open("t")
    assert quota.open("other")
    quota.close("t")
    assert quota.open("t")


async def test_a_body_over_the_cap_is_413_before_the_token_is_looked_at():
    anonymous, ledger = client(token=None)
    big = b'{"tool": "' + b"x" * SETTINGS.api_max_body_bytes + b'"}'
    async with anonymous:
        declared = await anonymous.post(USE, content=big)

        async def chunks():
            for _ in range(4):
                yield b"x" * (SETTINGS.api_max_body_bytes // 2)

        streamed = await anonymous.post(
            "/webhooks/payments", content=chunks(), headers={"Payments-Signature": "t=1,v1=0"}
        )

    assert (declared.status_code, declared.json()["code"]) == (413, "body_too_large")
    assert (streamed.status_code, streamed.json()["code"]) == (413, "body_too_large")
    assert ledger.sent == []


async def test_commands_beyond_the_accounts_rate_are_429_with_retry_after():
    settings = SETTINGS.model_copy(
        update={"api_commands_burst": 2, "api_commands_per_account_per_s": 0.5}
    )
    http, ledger = client(settings=settings)
    async with http:
        answers = [await http.post(USE, json={"tool": "meta_description"}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert answers[2].headers["retry-after"] == "2"
    assert len(ledger.sent) == 2  # the refused one never reached the ledger


async def test_an_idempotency_key_reused_for_another_path_or_body_is_422():
    http, ledger = client(token="svc")
    key = {"Idempotency-Key": "k-1"}
    async with http:
        first = await http.post(USE, json={"tool": "meta_description"}, headers=key)
        repeat = await http.post(USE, json={"tool": "meta_description"}, headers=key)
        other_body = await http.post(USE, json={"tool": "content_analysis"}, headers=key)
        other_path = await http.post(
            f"/accounts/{ACCOUNT}/holds",
            json={
                "hold_id": "h",
                "tool": "meta_description",
                "units": 1,
                "expires_at": "2026-12-01T00:00:00Z",
            },
            headers=key,
        )

    assert first.status_code == repeat.status_code == 200
    assert [(r.status_code, r.json()["code"]) for r in (other_body, other_path)] == [
        (422, "idempotency_key_reused")
    ] * 2
    assert len(ledger.sent) == 2  # the first and its repeat
