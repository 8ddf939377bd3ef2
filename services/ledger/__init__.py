"""The credit ledger: decision core, event store and Kafka edge."""

from services import native

native.install()  # the core compiled, when built from these sources (services/native.py)
