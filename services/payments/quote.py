"""The price a checkout was opened at, signed into the checkout's metadata.

A provider echoes a checkout's metadata in its webhooks; when the catalog's price changes
between checkout and payment, the signed quote says what the payer was offered, so the payment
buys what it was sold as (``BuyPackage.offer``). The MAC is keyed with a key derived from the
webhook secret and covers the account and the package, so a quote cannot be moved to another
account or package, nor its credits or price changed. Pure.
"""

from __future__ import annotations

import hashlib
import hmac

from events.commands import Offer

VERSION = "q1"


def sign_quote(secret: str, account_id: str, package: str, offer: Offer) -> str:
    """The quote for ``offer`` of ``package`` to ``account_id``, as metadata text."""
    fields = f"{offer.credits}.{offer.price_cents}.{offer.currency}"
    return f"{VERSION}.{fields}.{_mac(secret, account_id, package, fields)}"


def read_quote(secret: str, quote: str | None, account_id: str, package: str) -> Offer | None:
    """The offer a quote signs for this account and package; None if it is absent, malformed
    or not ours."""
    if not quote:
        return None
    parts = quote.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        return None
    fields, mac = ".".join(parts[1:4]), parts[4]
    expected = _mac(secret, account_id, package, fields)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    credits, price_cents, currency = parts[1:4]
    try:
        return Offer(credits=int(credits), price_cents=int(price_cents), currency=currency)
    except ValueError:  # ours, but not an offer the ledger takes (pydantic's errors included)
        return None


def _mac(secret: str, account_id: str, package: str, fields: str) -> str:
    key = hmac.new(secret.encode(), b"kalema checkout quote", hashlib.sha256).digest()
    message = f"{account_id}\n{package}\n{fields}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
