"""The ledger's PostgreSQL statements take a batch as arrays, and every array is sent in
binary (a ``%b`` placeholder). Under ``%s`` psycopg writes a list as a text array in Python,
quoting and escaping each element: the events' bytes alone cost about 20 µs a row that way,
a tenth of the ledger's CPU end to end (py-spy, BENCHMARKS.md)."""

from __future__ import annotations

import re

import psycopg
from psycopg.adapt import PyFormat, Transformer

from services.settings import REPO

SOURCE = (REPO / "services" / "ledger" / "recorders.py").read_text()


def test_no_array_parameter_of_the_ledgers_statements_is_sent_as_text():
    assert re.findall(r"%s::\w+\[\]", SOURCE) == []
    assert len(re.findall(r"%b::\w+\[\]", SOURCE)) >= 4  # the events, the index, the look-ups


def test_a_list_of_event_bytes_is_dumped_by_the_binary_array_dumper_under_b():
    transformer = Transformer()
    events = [b"sha256:" + b"0" * 64 + b'\n{"a": "\\"quoted\\""}']

    binary = transformer.get_dumper(events, PyFormat.BINARY)
    text = transformer.get_dumper(events, PyFormat.AUTO)

    assert type(binary).__name__ == "ListBinaryDumper" and binary.format == psycopg.pq.Format.BINARY
    assert type(text).__name__ == "ListDumper"  # what ``%s`` gave them: the slow path
