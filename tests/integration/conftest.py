"""The projector's fixtures (``projector``, ``balances``, ``alerts``) for integration tests."""

from tests.integration.client_ways import either  # noqa: F401
from tests.integration.conftest_projections import alerts, balances, projector  # noqa: F401
