"""The page's usage chart, drawn on the server as SVG: credits used per day, each day's bar
stacked by tool, with a legend in the catalog's names. Pure: days of use in, markup out; no
script and no charting library reaches the browser.

Each bar segment is a ``rect.bar`` carrying ``data-day``, ``data-tool`` and ``data-credits``,
so what is drawn can be checked against the usage it was drawn from. The chart's ``title`` and
``desc`` (its figures, day by day) are its text alternative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from services.api.forecast_text import day_text
from services.api.models import DayUsage

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 76  # margins: axis labels left, days and legend below
PALETTE = ("#4f6bed", "#16a34a", "#f59e0b", "#db2777", "#0891b2", "#7c3aed", "#64748b")


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the plot sits and how many credits its full height stands for."""

    days: int
    top_credits: int

    @property
    def slot(self) -> float:
        return (WIDTH - LEFT - RIGHT) / self.days

    def x(self, index: int) -> float:
        return LEFT + index * self.slot

    def height(self, credits: int) -> float:
        return credits * (HEIGHT - TOP - BOTTOM) / self.top_credits


def nice_top(most: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``most`` (10 at least), so the
    axis reads in round figures."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= max(most, 10):
                return step * factor
        step *= 10


def tools_in_order(days: Sequence[DayUsage], names: Mapping[str, str]) -> list[str]:
    """The tools used in ``days``: in the order of ``names`` (the catalog's), then any the
    catalog does not name, by id."""
    used = {tool for d in days for tool, credits in d.tools.items() if credits}
    return [t for t in names if t in used] + sorted(used - set(names))


def chart(days: Sequence[DayUsage], names: Mapping[str, str], today: date) -> str:
    """The chart of ``days`` (consecutive, as ``/usage?by=day`` lists them); tools named by
    ``names`` (id → name, in the order the legend lists them); days after ``today`` shaded as
    still ahead."""
    assert days, "a chart covers at least one day"
    tools = tools_in_order(days, names)
    colour = {tool: PALETTE[n % len(PALETTE)] for n, tool in enumerate(tools)}
    frame = Frame(len(days), nice_top(max(d.credits for d in days)))
    first, last = days[0].day, days[-1].day
    title = f"Credits used per day by tool, {day_text(first, today)} to {day_text(last, today)}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" role="img" aria-labelledby="usage-chart-title usage-chart-desc" '
        f'data-first="{first}" data-last="{last}" data-top-credits="{frame.top_credits}">',
        f'<title id="usage-chart-title">{escape(title)}</title>',
        f'<desc id="usage-chart-desc">{escape(described(days, names, today))}</desc>',
        *_ahead(days, frame, today),
        *_axis(frame),
        *(bar for n, d in enumerate(days) for bar in _bars(n, d, tools, colour, names, frame)),
        *_day_labels(days, frame, today),
        *_legend(tools, colour, names),
        "</svg>",
    ]
    return "\n".join(parts)


def described(days: Sequence[DayUsage], names: Mapping[str, str], today: date) -> str:
    """The chart's figures in words: each day with use, its credits and their tools."""
    said = []
    for d in days:
        if d.credits:
            split = ", ".join(f"{names.get(t, t)} {c:,}" for t, c in sorted(d.tools.items()) if c)
            said.append(f"{day_text(d.day, today)}: {d.credits:,} credits ({split}).")
    return " ".join(said) or "No credits used on these days."


def _bars(
    index: int,
    day: DayUsage,
    tools: Sequence[str],
    colour: Mapping[str, str],
    names: Mapping[str, str],
    frame: Frame,
) -> list[str]:
    """The day's segments, stacked from the axis up in the legend's order."""
    width = frame.slot * 0.7
    x, base, drawn = frame.x(index) + (frame.slot - width) / 2, float(HEIGHT - BOTTOM), []
    for tool in tools:
        credits = day.tools.get(tool, 0)
        if not credits:
            continue
        height = frame.height(credits)
        base -= height
        tip = f"{day.day:%b} {day.day.day} · {names.get(tool, tool)}: {credits:,} credits"
        drawn.append(
            f'<rect class="bar" data-day="{day.day}" data-tool="{escape(tool)}" '
            f'data-credits="{credits}" x="{x:.2f}" y="{base:.2f}" width="{width:.2f}" '
            f'height="{height:.2f}" fill="{colour[tool]}"><title>{escape(tip)}</title></rect>'
        )
    return drawn


def _axis(frame: Frame) -> list[str]:
    """Gridlines and labels at none, half and all of the top figure."""
    drawn = []
    for credits in (0, frame.top_credits // 2, frame.top_credits):
        y = HEIGHT - BOTTOM - frame.height(credits)
        drawn.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" y2="{y:.2f}" '
            f'stroke="#e3e7ee"/><text class="axis" x="{LEFT - 6}" y="{y + 4:.2f}" '
            f'text-anchor="end" font-size="11" fill="#5f6b7f">{credits:,}</text>'
        )
    return drawn


def _ahead(days: Sequence[DayUsage], frame: Frame, today: date) -> list[str]:
    """A light band behind the days still ahead in the range."""
    ahead = [n for n, d in enumerate(days) if d.day > today]
    if not ahead:
        return []
    x, width = frame.x(ahead[0]), frame.slot * len(ahead)
    return [
        f'<rect class="ahead" x="{x:.2f}" y="{TOP}" width="{width:.2f}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="#f5f7fa"/>'
    ]


def _day_labels(days: Sequence[DayUsage], frame: Frame, today: date) -> list[str]:
    """The day of the month under every bar (every few when the days are many), the first
    with its month, today's in bold."""
    every = -(-len(days) // 16)
    drawn = []
    for n, d in enumerate(days):
        if n % every and d.day != today:
            continue
        text = f"{d.day:%b} {d.day.day}" if n == 0 else str(d.day.day)
        weight = ' font-weight="700"' if d.day == today else ""
        drawn.append(
            f'<text class="day" x="{frame.x(n) + frame.slot / 2:.2f}" y="{HEIGHT - BOTTOM + 16}"'
            f' text-anchor="middle" font-size="11" fill="#5f6b7f"{weight}>{text}</text>'
        )
    return drawn


def _legend(tools: Sequence[str], colour: Mapping[str, str], names: Mapping[str, str]) -> list[str]:
    """A swatch and the catalog's name of each tool drawn, in rows under the days."""
    drawn, x, y = [], float(LEFT), HEIGHT - BOTTOM + 40
    for tool in tools:
        name = names.get(tool, tool)
        width = 24 + 6.5 * len(name)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 18
        drawn.append(
            f'<g class="legend" data-tool="{escape(tool)}"><rect x="{x:.2f}" y="{y - 9}" '
            f'width="10" height="10" rx="2" fill="{colour[tool]}"/><text x="{x + 14:.2f}" '
            f'y="{y}" font-size="11" fill="#1c2333">{escape(name)}</text></g>'
        )
        x += width
    return drawn
