"""The wire contract of Kalema Credits: commands, ledger events, refusals and topic names.

Nothing here does I/O; every producer, consumer and the decision core share these models.
"""
