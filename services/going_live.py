"""Going live: one check, at the start of every entry point, that production runs on no lab
setting.

``KALEMA_ENVIRONMENT=production``: the ledger, the projector, the clock, the API (its
``__main__`` and ``create_app``, so ``uvicorn --factory`` too), ``make run`` and the ``credits``
command refuse to start, with one line naming each setting to change, while a development
default is left in (``Settings.lab_settings``: an empty chain key, the development PostgreSQL
password, PLAINTEXT Kafka; ``ApiSettings.lab_settings`` adds the built-in tokens, the built-in
webhook secret and the test payment provider). Whatever address the API listens on: a
reverse proxy makes loopback public.

``development`` (the default, ``make run``) starts, and logs one WARNING naming what is
development only.
"""

from __future__ import annotations

import logging

from services.settings import Settings

log = logging.getLogger("kalema")
_warned: set[str] = set()  # each named once per process, however many entry points it passes


class LabSettingsRefused(SystemExit):
    """Production was asked for with a lab setting left in. A ``SystemExit``: uncaught, the
    process ends with exit status 1 and the one-line message on stderr, no traceback."""

    def __init__(self, found: list[str]) -> None:
        self.found = found
        super().__init__(
            "refusing to start with KALEMA_ENVIRONMENT=production: " + "; ".join(found)
        )


def refuse_lab_settings(settings: Settings) -> None:
    """Raise ``LabSettingsRefused`` in production if any lab setting is left in; in
    development, warn (once per process) of the ones in use."""
    found = settings.lab_settings()
    if not found:
        return
    if settings.environment == "production":
        raise LabSettingsRefused(found)
    if new := [f for f in found if f not in _warned]:
        _warned.update(new)
        log.warning(
            "development mode (KALEMA_ENVIRONMENT=development), not for production: %s",
            "; ".join(new),
        )
