"""The finance report: the stored months of every account summed over a period. Pure: period
rows in, report lines out (the rows are the read model's, never a replay of the log).

For each account, purchased credits and their value in cents: ``opening + bought - consumed -
refunded - forfeited = closing``, to the credit and the cent. The opening is the closing of
the account's last month before the period if the period has no month of it yet; an account
with nothing in the period but credits still owed is listed too, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from itertools import groupby
from operator import itemgetter

from projections.finance import Period

FLOWS = ("bought", "consumed", "refunded", "forfeited")
PURCHASED = tuple(f"{n}{u}" for n in ("opening", *FLOWS, "closing") for u in ("", "_cents"))
Triple = tuple[int, int, int]  # (granted, used, expired)


@dataclass
class Line:
    """One account's figures over the period (or the total of every account: ``*``)."""

    account_id: str
    opening: int = 0
    opening_cents: int = 0
    bought: int = 0
    bought_cents: int = 0
    consumed: int = 0
    consumed_cents: int = 0
    refunded: int = 0
    refunded_cents: int = 0
    forfeited: int = 0
    forfeited_cents: int = 0
    closing: int = 0
    closing_cents: int = 0
    subscription: dict[str, Triple] = field(default_factory=dict)
    granted: Triple = (0, 0, 0)

    @property
    def balanced(self) -> bool:
        """Whether ``opening + bought - consumed - refunded - forfeited = closing`` holds for
        both the credits and the cents."""
        return all(
            getattr(self, f"opening{u}")
            + getattr(self, f"bought{u}")
            - sum(getattr(self, f"{n}{u}") for n in FLOWS[1:])
            == getattr(self, f"closing{u}")
            for u in ("", "_cents")
        )

    def add(self, other: Line | Period) -> None:
        """Add ``other``'s flows (opening and closing too: for a total)."""
        for name in PURCHASED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self._add_credits(other)

    def _add_credits(self, other: Line | Period) -> None:
        for plan, figures in other.subscription.items():
            self.subscription[plan] = _sum(self.subscription.get(plan, (0, 0, 0)), figures)
        self.granted = _sum(self.granted, other.granted)


@dataclass
class Report:
    first: str  # YYYY-MM
    last: str
    lines: list[Line]
    total: Line


def report(
    rows: Iterable[tuple[str, Period]],
    first: str,
    last: str,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Sum each account's months from ``first`` to ``last`` (YYYY-MM, both included). ``rows``
    are the accounts' months (later ones are left out), by account then month; ``progress``
    is told the accounts done so far, now and then."""
    lines: list[Line] = []
    total = Line("*")
    for done, (account_id, months) in enumerate(groupby(rows, key=itemgetter(0)), start=1):
        line = _line(account_id, [p for _, p in months if p.month <= last], first)
        if line is not None:
            lines.append(line)
            total.add(line)
        if progress is not None and done % 1000 == 0:
            progress(done)
    return Report(first, last, lines, total)


def _line(account_id: str, months: list[Period], first: str) -> Line | None:
    before = [p for p in months if p.month < first]
    within = [p for p in months if p.month >= first]
    carried = before[-1] if before else None
    if not within and (carried is None or not (carried.closing or carried.closing_cents)):
        return None
    line = Line(account_id)
    start = within[0] if within else carried
    end = within[-1] if within else carried
    assert start is not None and end is not None
    if within:
        line.opening, line.opening_cents = start.opening, start.opening_cents
    else:
        line.opening, line.opening_cents = start.closing, start.closing_cents
    line.closing, line.closing_cents = end.closing, end.closing_cents
    for period in within:
        for name in PURCHASED[2:-2]:
            setattr(line, name, getattr(line, name) + getattr(period, name))
        line._add_credits(period)
    return line


def _sum(a: Triple, b: Triple) -> Triple:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


COLUMNS = ["account_id", *PURCHASED]
PLAN_COLUMNS = ("granted", "used", "expired")


def flat(line: Line) -> dict[str, int | str]:
    """The line as one flat record (CSV, table): subscription credits by plan as
    ``subscription_<plan>_<granted|used|expired>``, granted credits as ``granted_<...>``."""
    record: dict[str, int | str] = {name: getattr(line, name) for name in COLUMNS}
    for plan, figures in sorted(line.subscription.items()):
        record |= {
            f"subscription_{plan}_{k}": v for k, v in zip(PLAN_COLUMNS, figures, strict=True)
        }
    record |= {f"granted_{k}": v for k, v in zip(PLAN_COLUMNS, line.granted, strict=True)}
    return record


assert [f.name for f in fields(Line)][1:13] == list(PURCHASED)
