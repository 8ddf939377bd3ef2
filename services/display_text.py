"""Text from the ledger made inert before an auditor sees it. A grant's ``reason`` (and any
other free text) is written by whoever sent the command: it must not drive the auditor's
terminal, style the table, or run as a formula when the CSV export is opened in a spreadsheet.
Pure functions."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """``text`` with every character that is not printable (terminal escapes, other control
    characters, bidirectional overrides, zero-width characters) shown as its escape, e.g.
    ``\\x1b``; printable text is unchanged."""
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula (``= + - @``,
    tab or carriage return) gets a leading apostrophe, as OWASP advises; numbers are kept."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _escape(c: str) -> str:
    code = ord(c)
    return (
        f"\\x{code:02x}"
        if code <= 0xFF
        else f"\\u{code:04x}"
        if code <= 0xFFFF
        else f"\\U{code:08x}"
    )
