"""The page's usage chart, drawn as SVG on the server: what is drawn is the usage it was
drawn from, named as the catalog names it, with its figures as a text alternative."""

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from services.api.models import DayUsage
from services.api.usage_chart import HEIGHT, chart, described, nice_top, tools_in_order

SVG = "{http://www.w3.org/2000/svg}"
NAMES = {
    "keyword_suggestions": "Keyword suggestions",
    "content_analysis": "Content analysis",
    "article_generation": "Full article generation",
}
TODAY = date(2026, 12, 3)


def days(*used: dict[str, int]) -> list[DayUsage]:
    return [
        DayUsage(day=date(2026, 12, n + 1), credits=sum(tools.values()), tools=tools)
        for n, tools in enumerate(used)
    ]


def drawn(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def bars(root: ET.Element) -> list[dict[str, str]]:
    return [r.attrib for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_every_tools_credits_of_every_day_is_one_bar_whose_height_is_in_proportion():
    root = drawn(
        chart(
            days(
                {"article_generation": 50, "keyword_suggestions": 2},
                {},
                {"content_analysis": 20},
                {},
            ),
            NAMES,
            TODAY,
        )
    )

    segments = bars(root)

    assert [(b["data-day"], b["data-tool"], b["data-credits"]) for b in segments] == [
        ("2026-12-01", "keyword_suggestions", "2"),
        ("2026-12-01", "article_generation", "50"),
        ("2026-12-03", "content_analysis", "20"),
    ]
    per_credit = {float(b["height"]) / int(b["data-credits"]) for b in segments}
    assert max(per_credit) - min(per_credit) < 0.01
    assert root.get("data-top-credits") == "100"


def test_a_days_bars_stack_from_the_axis_up_without_overlapping():
    root = drawn(chart(days({"article_generation": 50, "keyword_suggestions": 2}), NAMES, TODAY))

    low, high = bars(root)

    assert float(low["y"]) + float(low["height"]) == pytest.approx(HEIGHT - 76)
    assert float(high["y"]) + float(high["height"]) == pytest.approx(float(low["y"]))


def test_the_chart_has_a_title_and_its_figures_as_a_text_alternative():
    root = drawn(
        chart(days({"article_generation": 50}, {}, {"keyword_suggestions": 3}), NAMES, TODAY)
    )

    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "usage-chart-title usage-chart-desc"
    assert title is not None and title.text == "Credits used per day by tool, Dec 1 to Dec 3"
    assert desc is not None and desc.text == (
        "Dec 1: 50 credits (Full article generation 50). Dec 3: 3 credits (Keyword suggestions 3)."
    )


def test_the_legend_names_the_tools_drawn_as_the_catalog_does_in_its_order():
    root = drawn(chart(days({"article_generation": 50, "keyword_suggestions": 2}), NAMES, TODAY))

    legend = [g.find(f"{SVG}text").text for g in root.iter(f"{SVG}g")]  # type: ignore[union-attr]

    assert legend == ["Keyword suggestions", "Full article generation"]


def test_a_tool_the_catalog_does_not_name_is_drawn_under_its_id_after_the_named_ones():
    used = days({"retired_tool": 5, "content_analysis": 10})

    assert tools_in_order(used, NAMES) == ["content_analysis", "retired_tool"]
    assert "retired_tool 5" in described(used, NAMES, TODAY)


def test_text_from_outside_is_escaped_not_markup():
    svg = chart(days({"<script>": 5}), {"<script>": "A & <b>"}, TODAY)

    root = drawn(svg)

    assert "<script>" not in svg and root.find(f".//{SVG}script") is None
    assert [g.find(f"{SVG}text").text for g in root.iter(f"{SVG}g")] == ["A & <b>"]  # type: ignore[union-attr]


def test_days_still_ahead_are_shaded_and_a_quiet_range_says_so():
    root = drawn(chart(days({}, {}, {}, {}, {}), NAMES, TODAY))

    ahead = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "ahead"]

    assert bars(root) == [] and len(ahead) == 1
    assert root.find(f"{SVG}desc").text == "No credits used on these days."  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("most", "top"), [(0, 10), (7, 10), (10, 10), (11, 20), (52, 100), (120, 200), (2001, 5000)]
)
def test_the_axis_tops_out_at_a_round_figure_at_or_above_the_busiest_day(most, top):
    assert nice_top(most) == top
