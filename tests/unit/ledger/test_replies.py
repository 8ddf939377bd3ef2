"""Reading a command's reply headers (``services/ledger/replies.py``): only a complete, readable
request names a reply; anything else is no request, never an error."""

from __future__ import annotations

import struct

import pytest

from services.ledger.replies import (
    CORRELATION_ID,
    REPLY_PARTITION,
    REPLY_TOPIC,
    ReplyTo,
    reply_headers,
    requested_reply,
)


def test_the_clients_reply_headers_read_back_as_the_topic_partition_and_command_id():
    headers = reply_headers("kalema.credits.replies", 7, "cmd-1")

    assert requested_reply(headers) == ReplyTo("kalema.credits.replies", 7, "cmd-1")


def test_the_partition_is_a_four_byte_big_endian_int_as_spring_kafka_writes_it():
    assert dict(reply_headers("t", 258, "c"))[REPLY_PARTITION] == b"\x00\x00\x01\x02"


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("content-type", b"application/json")],
        [(REPLY_TOPIC, b"t"), (REPLY_PARTITION, struct.pack(">i", 1))],  # no correlation id
        [(REPLY_TOPIC, b"t"), (REPLY_PARTITION, b"1"), (CORRELATION_ID, b"c")],  # not 4 bytes
        [(REPLY_TOPIC, b"t"), (REPLY_PARTITION, b"\x00" * 8), (CORRELATION_ID, b"c")],
        [(REPLY_TOPIC, b"\xff\xfe"), (REPLY_PARTITION, b"\x00" * 4), (CORRELATION_ID, b"c")],
        [(REPLY_TOPIC, b"t"), (REPLY_PARTITION, b"\x00" * 4), (CORRELATION_ID, b"\xff")],
        [(REPLY_TOPIC, None), (REPLY_PARTITION, None), (CORRELATION_ID, None)],
    ],
    ids=[
        "none",
        "unrelated",
        "no-correlation",
        "ascii-partition",
        "eight-bytes",
        "topic-not-utf8",
        "id-not-utf8",
        "nulls",
    ],
)
def test_a_missing_or_unreadable_reply_header_is_no_request_and_never_raises(headers):
    assert requested_reply(headers) is None
