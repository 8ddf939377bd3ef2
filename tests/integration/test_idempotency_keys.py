"""Idempotency keys bound to their request in the ledger's database, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from services.api.keys import TABLE, StoredKeys
from tests.integration.conftest_api import api_settings


async def test_a_key_stays_bound_to_its_first_request_across_processes(store_settings):
    settings = api_settings(store_settings)
    one, other = StoredKeys(settings), StoredKeys(settings)  # two API processes
    try:
        first = await one.claim("http-1", "use-meta")
        repeat = await other.claim("http-1", "use-meta")
        reused = await other.claim("http-1", "buy-large")
        fresh = await one.claim("http-2", "buy-large")
    finally:
        one.close()
        other.close()

    assert (first, repeat, reused, fresh) == (True, True, False, True)


async def test_fingerprints_older_than_the_ttl_are_pruned_now_and_then(store_settings):
    settings = api_settings(store_settings, api_idempotency_key_ttl_h=1)
    keys = StoredKeys(settings, prune_every=2)
    try:
        await keys.claim("http-old", "a")
        keys._run(f"UPDATE {TABLE} SET created_s = {int(time.time()) - 7200}")
        await keys.claim("http-new", "b")  # the second claim prunes
        remaining = keys._run(f"SELECT command_id FROM {TABLE}")
        rebound = await keys.claim("http-old", "c")
    finally:
        keys.close()

    assert remaining == [("http-new",)]
    assert rebound is True
