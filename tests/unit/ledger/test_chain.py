"""The hash chain's links: plain SHA-256 (legacy) or HMAC-SHA256 under the chain key."""

from services.ledger.chain import GENESIS, broken, is_keyed, link

PAYLOAD = b'{"type": "ToolUsed", "credits": 50}'
KEY = b"chain-key"


def test_a_keyed_link_verifies_with_the_key_only():
    keyed = link(GENESIS, "acct-1", 1, PAYLOAD, KEY)

    assert is_keyed(keyed) and not is_keyed(link(GENESIS, "acct-1", 1, PAYLOAD))
    assert broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, KEY) is None
    assert broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, b"guess") == "was altered or moved"
    assert "no chain key" in str(broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, None))


def test_a_legacy_link_still_verifies_whether_or_not_a_key_is_configured():
    plain = link(GENESIS, "acct-1", 1, PAYLOAD)

    assert broken(plain, GENESIS, "acct-1", 1, PAYLOAD, None) is None
    assert broken(plain, GENESIS, "acct-1", 1, PAYLOAD, KEY) is None


def test_any_change_of_bytes_place_stream_or_past_breaks_a_keyed_link():
    keyed = link("prev", "acct-1", 2, PAYLOAD, KEY)

    assert broken(keyed, "prev", "acct-1", 2, PAYLOAD.replace(b"50", b"5"), KEY)
    assert broken(keyed, "prev", "acct-1", 3, PAYLOAD, KEY)
    assert broken(keyed, "prev", "acct-2", 2, PAYLOAD, KEY)
    assert broken(keyed, "other", "acct-1", 2, PAYLOAD, KEY)
