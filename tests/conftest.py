"""Shared fixtures: settings for a throwaway namespace on the real Kafka broker and PostgreSQL.

Integration tests never skip: if Kafka or PostgreSQL is down they fail, and say so.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.settings import Settings
from services.topics import delete_topics, ensure_topics


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def settings(run_id: str) -> AsyncIterator[Settings]:
    """Settings whose topics live under a prefix of their own, created for this test run."""
    settings = Settings(topic_prefix=f"test.{run_id}")
    await ensure_topics(settings)
    yield settings
    await delete_topics(settings)
