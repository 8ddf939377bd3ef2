"""``python -m services.cli``: the ``credits`` command line, without the installed script."""

from services.cli import app

app()
