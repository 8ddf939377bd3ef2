"""The hash chain's links: plain SHA-256 (legacy) or HMAC-SHA256 under a chain key that each
link names, so keys rotate without breaking the links older keys made."""

import hashlib
import hmac

import pytest
from pydantic import SecretStr, ValidationError

from services.ledger.chain import GENESIS, broken, head_signature, is_keyed, key_id_of, link
from services.settings import Settings

PAYLOAD = b'{"type": "ToolUsed", "credits": 50}'
KEY = ("k1", b"chain-key")
RING = dict([KEY])


def test_a_keyed_link_names_its_key_and_verifies_with_that_key_only():
    keyed = link(GENESIS, "acct-1", 1, PAYLOAD, KEY)

    assert keyed.startswith("hmac:k1:") and key_id_of(keyed) == "k1"
    assert is_keyed(keyed) and not is_keyed(link(GENESIS, "acct-1", 1, PAYLOAD))
    assert broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, RING) is None
    assert broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, {"k1": b"guess"}) == "was altered or moved"
    assert "no chain key" in str(broken(keyed, GENESIS, "acct-1", 1, PAYLOAD, {}))


def test_after_a_rotation_links_of_the_old_key_and_of_the_new_one_both_verify():
    old = link(GENESIS, "acct-1", 1, PAYLOAD, ("2026", b"old secret"))
    new = link(old, "acct-1", 2, PAYLOAD, ("2027", b"new secret"))
    ring = {"2026": b"old secret", "2027": b"new secret"}

    assert broken(old, GENESIS, "acct-1", 1, PAYLOAD, ring) is None
    assert broken(new, old, "acct-1", 2, PAYLOAD, ring) is None
    assert "'2026', which is not in the key ring" in str(
        broken(old, GENESIS, "acct-1", 1, PAYLOAD, {"2027": b"new secret"})
    )


def test_a_link_relabelled_with_another_key_id_does_not_verify():
    ring = {"2026": b"old secret", "2027": b"new secret"}
    made = link(GENESIS, "acct-1", 1, PAYLOAD, ("2026", b"old secret"))

    relabelled = made.replace("hmac:2026:", "hmac:2027:")

    assert broken(relabelled, GENESIS, "acct-1", 1, PAYLOAD, ring) == "was altered or moved"


def test_a_link_made_before_key_ids_verifies_with_the_default_key():
    message = f"{GENESIS}|acct-1|1|".encode() + PAYLOAD
    before_ids = "hmac:" + hmac.new(b"chain-key", message, hashlib.sha256).hexdigest()

    assert key_id_of(before_ids) == "default"
    assert broken(before_ids, GENESIS, "acct-1", 1, PAYLOAD, {"default": b"chain-key"}) is None
    assert broken(before_ids, GENESIS, "acct-1", 1, PAYLOAD, {"default": b"other"})


def test_a_legacy_link_still_verifies_whether_or_not_a_key_is_configured():
    plain = link(GENESIS, "acct-1", 1, PAYLOAD)

    assert broken(plain, GENESIS, "acct-1", 1, PAYLOAD, {}) is None
    assert broken(plain, GENESIS, "acct-1", 1, PAYLOAD, RING) is None


def test_any_change_of_bytes_place_stream_or_past_breaks_a_keyed_link():
    keyed = link("prev", "acct-1", 2, PAYLOAD, KEY)

    assert broken(keyed, "prev", "acct-1", 2, PAYLOAD.replace(b"50", b"5"), RING)
    assert broken(keyed, "prev", "acct-1", 3, PAYLOAD, RING)
    assert broken(keyed, "prev", "acct-2", 2, PAYLOAD, RING)
    assert broken(keyed, "other", "acct-1", 2, PAYLOAD, RING)


def test_the_signing_key_id_must_name_a_key_of_the_ring():
    ring = {"2026": SecretStr("old"), "2027": SecretStr("new")}
    settings = Settings(ledger_chain_keys=ring, ledger_chain_key_id="2027")

    assert settings.chain_signing_key() == ("2027", b"new")
    assert settings.chain_keys() == {"2026": b"old", "2027": b"new"}
    with pytest.raises(ValidationError, match="names no chain key"):
        Settings(ledger_chain_keys=ring, ledger_chain_key_id="2028")


def test_the_single_chain_key_is_the_key_of_id_default():
    settings = Settings(ledger_chain_key=SecretStr("only"))

    assert settings.chain_signing_key() == ("default", b"only")
    assert Settings().chain_signing_key() is None


def test_a_checkpoints_signature_is_hmac_sha256_of_its_own_message_under_the_chain_key():
    message = b"chain-head|acct-1|7|" + b"ab" * 32

    for _ in range(2):  # the keyed HMAC is made once, then copied
        signature = head_signature(KEY, "acct-1", 7, "ab" * 32)

        assert signature == hmac.new(b"chain-key", message, hashlib.sha256).hexdigest()
    assert head_signature(KEY, "acct-1", 8, "ab" * 32) != signature
