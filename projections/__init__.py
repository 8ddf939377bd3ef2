"""Folds of ledger events into read models (the balance the sidebar shows)."""

from services import native

native.install()  # the folds compiled, when built from these sources (services/native.py)
