"""Webhook signatures, Stripe's scheme: HMAC-SHA256 over "<t>." + the raw body."""

from __future__ import annotations

import pytest

from services.payments.signature import SignatureError, sign, verify

BODY = b'{"id": "evt_1", "type": "payment.succeeded"}'
SECRET = "whsec_test"
NOW = 1_780_000_000


def test_a_body_signed_with_the_secret_just_now_verifies():
    assert verify(sign(SECRET, NOW, BODY), BODY, SECRET, NOW + 5, 300) == NOW


@pytest.mark.parametrize(
    ("header", "body", "reason"),
    [
        (None, BODY, "no signature header"),
        ("v1=abc", BODY, "malformed"),
        ("t=soon,v1=abc", BODY, "malformed"),
        ("t=²,v1=00", BODY, "malformed"),
        ("t=" + "9" * 5000 + ",v1=00", BODY, "malformed"),
        (sign(SECRET, NOW, BODY), BODY.replace(b"evt_1", b"evt_2"), "does not match"),
        (sign("whsec_guess", NOW, BODY), BODY, "does not match"),
        (sign(SECRET, NOW, BODY).replace(f"t={NOW}", f"t={NOW + 1}"), BODY, "does not match"),
        (sign(SECRET, NOW - 301, BODY), BODY, "tolerance"),
        (sign(SECRET, NOW + 301, BODY), BODY, "tolerance"),
    ],
    ids=[
        "missing",
        "no-timestamp",
        "timestamp-not-a-number",
        "timestamp-a-digit-int-cannot-read",
        "timestamp-of-5000-digits",
        "body-changed",
        "wrong-secret",
        "timestamp-changed",
        "replayed-too-late",
        "from-the-future",
    ],
)
def test_a_webhook_not_signed_by_the_provider_or_not_recent_is_refused(header, body, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(header, body, SECRET, NOW, 300)


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated():
    old, new = sign("whsec_old", NOW, BODY), sign(SECRET, NOW, BODY)
    header = f"{new},{old.partition(',')[2]}"

    assert verify(header, BODY, SECRET, NOW, 300) == NOW
    assert verify(header, BODY, "whsec_old", NOW, 300) == NOW
