"""MkDocs hook: the benchmark figures as bar charts, drawn as SVG at build time.

The figures come from ``docs/hooks/benchmarks.yml`` (the headlines of BENCHMARKS.md); each
chart becomes ``benchmarks/<id>.svg`` in the site. Pure Python, no script in the page."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import yaml
from mkdocs.structure.files import File, Files

DATA = Path(__file__).with_name("benchmarks.yml")
WIDTH, LABEL_W, ROW_H, TOP = 720, 210, 26, 36
PLOT_W = WIDTH - LABEL_W - 90


def on_files(files: Files, config: Any) -> Files:
    for chart in charts():
        files.append(File.generated(config, f"benchmarks/{chart['id']}.svg", content=svg(chart)))
    return files


def charts() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(DATA.read_text())
    return loaded


def svg(chart: dict[str, Any]) -> str:
    bars = chart["bars"]
    target = chart.get("target")
    top = max([bar["value"] for bar in bars] + ([target["value"]] if target else []))
    height = TOP + ROW_H * len(bars) + (28 if target else 12)
    scale = PLOT_W / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13" '
        f'role="img" aria-label="{escape(chart["title"])}">',
        f"<title>{escape(chart['title'])}</title>",
        f'<text x="0" y="18" font-weight="bold">{escape(chart["title"])}</text>',
    ]
    for row, bar in enumerate(bars):
        y = TOP + row * ROW_H
        width = max(1.0, bar["value"] * scale)
        parts += [
            f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{escape(bar["label"])}</text>',
            f'<rect x="{LABEL_W}" y="{y + 2}" width="{width:.1f}" height="{ROW_H - 8}" '
            'fill="#3f51b5"/>',
            f'<text x="{LABEL_W + width + 6:.1f}" y="{y + 15}">{_figure(bar["value"])}</text>',
        ]
    if target:
        x = LABEL_W + target["value"] * scale
        bottom = TOP + ROW_H * len(bars)
        parts += [
            f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e53935" '
            'stroke-width="2" stroke-dasharray="5,3"/>',
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#e53935">'
            f"{escape(target['label'])}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _figure(value: float) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
