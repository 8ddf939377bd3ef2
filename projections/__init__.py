"""Folds of ledger events into read models (the balance the sidebar shows)."""
