"""A message's partition is the one ``AIOKafkaProducer.send`` would choose for its key, whether
``services.publish`` computes it or remembers it: an account's balances and outcomes must keep
landing on one partition of their topic."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.publish import slot


@given(st.binary(max_size=64), st.integers(1, 64))
def test_a_keys_remembered_slot_is_the_default_partitioners_choice(key, count):
    partitions = list(range(count))

    first, again = partitions[slot(key, count)], partitions[slot(key, count)]

    assert first == again == DefaultPartitioner()(key, partitions, partitions)
