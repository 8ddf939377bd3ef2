"""Logging of the API: tokens never reach a log line.

Handlers never log requests' headers. The one place a token can appear is the page's URL in
development (``/?token=...``), which uvicorn's access log would print: the filter redacts it.
"""

from __future__ import annotations

import logging
import re

TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])(?:token|access_token)=)[^&\s#]*", re.IGNORECASE)


def redact(text: str) -> str:
    return TOKEN_IN_QUERY.sub(r"\1REDACTED", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message arguments (uvicorn's access log passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "kalema.api"):
        logging.getLogger(name).addFilter(RedactTokens())
