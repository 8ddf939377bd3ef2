"""Audit: account history, point-in-time balances, verification and tamper evidence."""
