"""Webhook signatures as the big payment providers make them (Stripe's scheme): the header
``Payments-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is HMAC-SHA256, keyed with the
shared webhook secret, over ``"<t>." + raw body``. Pure: the time comes in.

Verifying the exact bytes received (never a re-serialised body) and the timestamp inside the
MAC means neither can be changed; the tolerance window bounds how long a captured delivery can
be replayed, and within it a replay is harmless: the command it produces has an id derived from
the payment, so it is decided once. Several ``v1`` entries are accepted (secret rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "Payments-Signature"
# ASCII digits only, and few: ``str.isdigit`` also takes "²" (which ``int`` refuses), and a
# thousands-digit number is past ``int``'s conversion limit; no real time has 13 digits.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(ValueError):
    """The webhook is not the provider's, or not recent: refused, nothing produced."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(header: str | None, body: bytes, secret: str, now: float, tolerance_s: int) -> int:
    """The signed timestamp, if ``header`` signs ``body`` with ``secret`` within the tolerance;
    otherwise ``SignatureError`` saying why."""
    if not header:
        raise SignatureError("no signature header")
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in parts if name.strip() == "t"]
    macs = [value.strip() for name, _, value in parts if name.strip() == "v1"]
    if len(stamps) != 1 or not _UNIX_SECONDS.fullmatch(stamps[0].strip()) or not macs:
        raise SignatureError("malformed signature header")
    timestamp = int(stamps[0])
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode(), mac.encode()) for mac in macs):
        raise SignatureError("signature does not match")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("signature timestamp outside the tolerance window")
    return timestamp


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
