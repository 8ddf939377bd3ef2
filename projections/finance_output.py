"""The finance report as text: a table for people, CSV and JSON for finance's tools. The same
record per account (``finance_report.flat``) in each, the total last (account ``*``)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict
from typing import Any

import orjson

from projections.finance_report import COLUMNS, Line, Report, flat

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
TABLE = ("account_id", "opening", "bought", "consumed", "refunded", "forfeited", "closing")


def render(report: Report, how: str) -> str:
    if how == "json":
        return orjson.dumps(document(report), option=orjson.OPT_INDENT_2).decode() + "\n"
    records = [flat(line) for line in (*report.lines, report.total)]
    if how == "csv":
        names = list(dict.fromkeys(name for record in records for name in record))
        out = io.StringIO()
        writer = csv.DictWriter(out, names, restval=0, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return out.getvalue()
    return _table(report, records)


def document(report: Report) -> dict[str, Any]:
    """The report as JSON data: each line's figures, subscription credits by plan and granted
    credits as ``{"granted", "used", "expired"}``."""
    return {
        "from": report.first,
        "to": report.last,
        "accounts": [_line(line) for line in report.lines],
        "total": _line(report.total),
    }


def _line(line: Line) -> dict[str, Any]:
    doc = asdict(line)
    keys = ("granted", "used", "expired")
    doc["subscription"] = {
        plan: dict(zip(keys, figures, strict=True)) for plan, figures in line.subscription.items()
    }
    doc["granted"] = dict(zip(keys, line.granted, strict=True))
    return doc


def _table(report: Report, records: list[dict[str, int | str]]) -> str:
    """Purchased credits and their value (credits / dollars.cents) per account, then breakage."""
    head = [f"purchased credits {report.first} to {report.last}: credits (value)"]
    rows = [list(TABLE)]
    for record in records:
        rows.append([str(record["account_id"])] + [_cell(record, n) for n in TABLE[1:]])
    widths = [max(len(row[n]) for row in rows) for n in range(len(TABLE))]
    lines = [
        "  ".join(
            c.rjust(w) if n else c.ljust(w)
            for n, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    total = report.total
    breakage = [
        f"subscription {plan}: granted {g}, used {u}, expired {e}"
        for plan, (g, u, e) in sorted(total.subscription.items())
    ]
    breakage.append("granted: granted {}, used {}, expired {}".format(*total.granted))
    return "\n".join([*head, *lines, "", *breakage]) + "\n"


def _aligned(row: list[str], widths: list[int]) -> list[str]:
    """The account left, the figures right."""
    return [
        c.rjust(w) if n else c.ljust(w) for n, (c, w) in enumerate(zip(row, widths, strict=True))
    ]


def _cell(record: dict[str, int | str], name: str) -> str:
    cents = int(record[f"{name}_cents"])
    return f"{record[name]} ({cents // 100}.{cents % 100:02d})"


assert COLUMNS[0] == TABLE[0]
