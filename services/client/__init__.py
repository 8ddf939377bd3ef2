"""The ledger's client: what AI workers and billing call to send commands and await outcomes.

It sits above the read model (its advisory balance reads it) and beside the other producers.
"""

from services.client.client import LedgerClient, LedgerTimeout, LedgerUnavailable
from services.client.sync_client import SyncLedgerClient

__all__ = ["LedgerClient", "LedgerTimeout", "LedgerUnavailable", "SyncLedgerClient"]
