"""Deployables that decide: the ledger service and (later) the HTTP API."""
