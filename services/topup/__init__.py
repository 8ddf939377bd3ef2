"""The top-up process: turns each ``TopUpRequested`` in the ledger's log into one off-session
charge of the saved card (``service``)."""
