"""The clock: time moves the balance even when no command arrives (``python -m services.clock``)."""
