"""Runnable examples of the ledger's clients; each runs against ``make run`` (see README)."""
