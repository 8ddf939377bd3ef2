"""The finance read model's tables, the same in both databases: one row per account and month
(``finance_periods``) and one per account and day of use (``usage_days``, the day's tools and
their uses and credits as a JSON object). An account's latest month and day are kept in its
balance row, with its books; a month's or a day's row is written once, when it is over (the
account's next event comes in a later one), in the transaction of that page, so a closed month
stays as it was. Readers take the two together (``recorders.periods`` and ``recorders.usage``).

A day was a row per tool (``usage_daily``) until issue 26: a use of a new day then wrote a row
for each tool of the day before, 0.41 rows an event in the end-to-end mix, each a random
insert into the table's key (BENCHMARKS.md). A read model from before is merged into the day
rows by the projector that takes the lease (``MERGE_USAGE_BY_TOOL``,
``recorders.merge_usage_by_tool``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson

from projections.finance import Period

PERIODS, USAGE = "finance_periods", "usage_days"
USAGE_BY_TOOL = "usage_daily"  # a day's usage a row per tool, before issue 26
NUMBERS = (
    *(f"{name}{unit}" for name in ("opening", "bought", "consumed") for unit in ("", "_cents")),
    *(f"{name}{unit}" for name in ("refunded", "forfeited", "closing") for unit in ("", "_cents")),
)
GRANTED = ("granted_in", "granted_used", "granted_expired")
PERIOD_NAMES = ("account_id", "month", *NUMBERS, *GRANTED, "subscription")
CREATE_PERIODS = (
    "CREATE TABLE IF NOT EXISTS {periods} (account_id TEXT NOT NULL, month TEXT NOT NULL, "
    + ", ".join(f"{n} BIGINT NOT NULL" for n in (*NUMBERS, *GRANTED))
    + ", subscription TEXT NOT NULL, PRIMARY KEY (account_id, month))"
)
CREATE_USAGE = (
    "CREATE TABLE IF NOT EXISTS {usage} (account_id TEXT NOT NULL, day TEXT NOT NULL, "
    "tools TEXT NOT NULL, PRIMARY KEY (account_id, day))"
)
# A read model from before the day rows: its rows merged into them (a day already there is
# kept) by the database's own JSON aggregate (``TOOLS_OBJECT``), then that table dropped.
MERGE_USAGE_BY_TOOL = (
    "INSERT INTO {usage} (account_id, day, tools) SELECT account_id, day, {tools} "
    "FROM {usage_by_tool} WHERE true GROUP BY account_id, day "
    "ON CONFLICT (account_id, day) DO NOTHING"
)
TOOLS_OBJECT = {
    "sqlite": "json_group_object(tool, json_array(uses, credits))",
    "postgres": "json_object_agg(tool, json_build_array(uses, credits))::text",
}
USAGE_NAMES = ("account_id", "day", "tools")
# Each column's PostgreSQL type, in the order of the names: what a binary COPY is told.
PERIOD_TYPES = ("text", "text", *("int8" for _ in (*NUMBERS, *GRANTED)), "text")
USAGE_TYPES = ("text", "text", "text")


def upsert_period(source: str) -> str:
    """The period rows of ``source`` (``VALUES`` or a ``SELECT``) written over their month's."""
    return (
        f"INSERT INTO {{periods}} ({', '.join(PERIOD_NAMES)}) {source} "
        "ON CONFLICT (account_id, month) DO UPDATE SET "
        + ", ".join(f"{n} = excluded.{n}" for n in PERIOD_NAMES[2:])
    )


def upsert_usage(source: str) -> str:
    """The day rows of ``source`` written over their day's."""
    return (
        f"INSERT INTO {{usage}} ({', '.join(USAGE_NAMES)}) {source} "
        "ON CONFLICT (account_id, day) DO UPDATE SET tools = excluded.tools"
    )


class Table(NamedTuple):
    """A finance table as a page writes it: its name (and placeholder in the statements), its
    columns and their PostgreSQL types, and its upsert from a source of rows."""

    name: str
    placeholder: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    upsert: Callable[[str], str]

    @property
    def from_values(self) -> str:
        return self.upsert(f"VALUES ({', '.join('?' * len(self.names))})")


MONTHS = Table(PERIODS, "{periods}", PERIOD_NAMES, PERIOD_TYPES, upsert_period)
DAYS = Table(USAGE, "{usage}", USAGE_NAMES, USAGE_TYPES, upsert_usage)
SELECT_PERIODS = (
    f"SELECT {', '.join(PERIOD_NAMES)} FROM {{periods}} WHERE month <= ? ORDER BY account_id, month"
)
SELECT_USAGE = (
    "SELECT day, tools FROM {usage} WHERE account_id = ? AND day >= ? AND day <= ? ORDER BY day"
)
_NUMBERS_END = 1 + len(NUMBERS)
assert Period._fields[1:_NUMBERS_END] == NUMBERS, "a period row takes the fields in order"
Periods = Mapping[tuple[str, str], Period]  # (account, month): the month's figures
Usage = Mapping[tuple[str, str], Mapping[str, tuple[int, int]]]  # (account, day): tool's


def period_row(account_id: str, period: Period) -> tuple[Any, ...]:
    # A period's fields are its month, its NUMBERS in order, then subscription and granted.
    subscription = orjson.dumps(dict(period.subscription)).decode()
    return (account_id, *period[:_NUMBERS_END], *period.granted, subscription)


def period_of(row: Mapping[str, Any]) -> tuple[str, Period]:
    """(account, period) from a stored row."""
    subscription = {k: (v[0], v[1], v[2]) for k, v in orjson.loads(row["subscription"]).items()}
    granted = (row["granted_in"], row["granted_used"], row["granted_expired"])
    numbers = {n: int(row[n]) for n in NUMBERS}
    period = Period(row["month"], **numbers, subscription=subscription, granted=granted)
    return row["account_id"], period


def usage_rows(usage: Usage) -> list[tuple[str, str, str]]:
    """A row per account and day: its tools' (uses, credits) as a JSON object."""
    return [
        (account_id, day, orjson.dumps(tools if type(tools) is dict else dict(tools)).decode())
        for (account_id, day), tools in usage.items()
    ]


def day_usage(day: str, tools: str) -> dict[tuple[str, str], tuple[int, int]]:
    """A day row's usage by (day, tool): (uses, credits)."""
    used = orjson.loads(tools).items()
    return {(day, tool): (int(uses), int(credits)) for tool, (uses, credits) in used}
