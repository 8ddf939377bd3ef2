"""Chain-head checkpoints against the stored streams: given the heads the ledger published and
the streams as stored, verification names what was truncated, deleted, rewritten or forged."""

from __future__ import annotations

from eventsourcing.persistence import StoredEvent

from events.checkpoints import ChainHead
from services.audit.checkpoints import check_heads
from services.ledger import checkpoints
from services.ledger.chain import GENESIS, link
from services.ledger.upcasting import Recorded
from tests.unit.core import scenario as s

KEY = ("2027", b"chain secret")
RING = dict([KEY])


def stream(account_id: str, n: int) -> list[StoredEvent]:
    rows, previous = [], GENESIS
    for version in range(1, n + 1):
        payload = b'{"version": %d}' % version
        previous = link(previous, account_id, version, payload, KEY)
        state = b"sha256:" + previous.encode() + b"\n" + payload
        rows.append(StoredEvent(account_id, version, "ToolUsed", state))
    return rows


def head(rows: list[StoredEvent], version: int, key=KEY):
    chain = rows[version - 1].state.split(b"\n")[0].removeprefix(b"sha256:").decode()
    return checkpoints.signed(str(rows[0].originator_id), version, chain, key)


def findings(heads, streams, keys=RING) -> list[str]:
    return [str(f) for f in check_heads(heads, streams, keys)]


def test_streams_that_reach_their_checkpoints_with_the_same_hashes_verify():
    a, b = stream("acct-a", 3), stream("acct-b", 2)

    assert findings([head(a, 2), head(a, 3), head(b, 2)], {"acct-a": a, "acct-b": b}) == []


def test_a_stream_shorter_than_its_checkpoint_was_truncated():
    a = stream("acct-a", 3)

    assert findings([head(a, 3)], {"acct-a": a[:2]}) == [
        "acct-a: checkpoint: the stream ends at version 2, checkpointed at 3: truncated"
    ]


def test_an_older_checkpoint_does_not_hide_a_later_one():
    a = stream("acct-a", 3)

    assert "truncated" in findings([head(a, 3), head(a, 1)], {"acct-a": a[:1]})[0]


def test_a_checkpointed_account_the_store_does_not_have_was_deleted():
    a = stream("acct-a", 3)

    assert findings([head(a, 3)], {}) == [
        "acct-a: checkpoint: the account is missing from the store (checkpointed at version 3)"
    ]


def test_an_event_whose_hash_is_not_the_checkpoints_was_rewritten():
    a, other = stream("acct-a", 2), stream("acct-a", 3)
    rewritten = [a[0], StoredEvent("acct-a", 2, "ToolUsed", other[2].state)]

    assert findings([head(a, 2)], {"acct-a": rewritten}) == [
        "acct-a: checkpoint: event 2's hash is not the checkpoint's: rewritten"
    ]


def test_with_a_key_ring_an_unsigned_or_forged_checkpoint_counts_for_nothing():
    a = stream("acct-a", 3)
    unsigned = head(a, 3, key=None)
    forged = head(a, 3, key=("2027", b"guess"))

    assert findings([unsigned, forged], {"acct-a": a[:1]}) == [
        "acct-a: checkpoint: version 3 is unsigned where the chain is keyed",
        "acct-a: checkpoint: version 3 has a signature that does not verify (forged)",
    ]
    assert findings([unsigned], {"acct-a": a[:1]}, keys={})[0].endswith("truncated")


def test_the_ledger_checkpoints_each_accounts_last_event_of_the_batch():
    a, b = stream("acct-a", 3), stream("acct-b", 1)
    batch = [
        Recorded(str(r.originator_id), r.originator_version, s.used(), b"", _chain(r))
        for r in (a[0], b[0], a[1], a[2])
    ]

    heads = checkpoints.heads(batch, KEY)

    assert [(h.account_id, h.version, h.key_id) for h in heads] == [
        ("acct-a", 3, "2027"),
        ("acct-b", 1, "2027"),
    ]
    assert heads == [head(a, 3), head(b, 1)]


def _chain(row: StoredEvent) -> str:
    return row.state.split(b"\n")[0].removeprefix(b"sha256:").decode()


def test_a_checkpoint_the_ledger_builds_reads_back_through_the_models_validation_keyed_or_not():
    rows = stream("acct-a", 2)
    for key in (KEY, None):
        built = head(rows, 2, key)
        [(topic, account, written)] = checkpoints.messages("chain-heads", [built])

        read = ChainHead.model_validate_json(written)

        assert (topic, account) == ("chain-heads", b"acct-a")
        assert read == built and written == built.model_dump_json().encode()
        assert (read.key_id, bool(read.signature)) == (("2027", True) if key else ("", False))
