"""The credit ledger: decision core, event store and Kafka edge."""
