"""Hostile text is shown inert: control characters as escapes, CSV formulas as text."""

import pytest

from services.display_text import csv_cell, printable


def test_printable_text_is_unchanged_and_everything_else_is_shown_as_its_escape():
    assert (
        printable("granted 10: outage apology — ünïcode") == "granted 10: outage apology — ünïcode"
    )
    assert printable("a\x1b[2Jb\x07\r\n\u202ec\u200b") == "a\\x1b[2Jb\\x07\\x0d\\x0a\\u202ec\\u200b"


@pytest.mark.parametrize("formula", ["=1+2", "+1", "-1+1", "@SUM(A1)"])
def test_a_csv_cell_that_would_start_a_formula_starts_with_an_apostrophe(formula):
    assert csv_cell(formula) == f"'{formula}"


def test_a_leading_tab_or_carriage_return_is_escaped_so_it_starts_nothing():
    assert (csv_cell("\tx"), csv_cell("\r=1")) == ("\\x09x", "\\x0d=1")


def test_numbers_and_plain_text_are_kept_as_they_are():
    assert csv_cell(-10) == -10
    assert csv_cell("granted 10") == "granted 10"
