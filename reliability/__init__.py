"""Reliability runs: the fuzz run and the fault run (RELIABILITY.md says how to rerun them)."""
