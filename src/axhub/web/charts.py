"""Server-side SVG charts (no JavaScript, nothing fetched from the internet)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None = suppressed (drawn as a hatched stub)
    text: str  # what is written at the end of the bar
    group: str = ""  # e.g. "dong" / "eup_myeon" (colour)


def bar_chart(bars: Sequence[Bar], *, width: int = 720, row: int = 20, title: str = "") -> Markup:
    """Horizontal bars in the given order; values are shares 0-1 or any non-negative number."""
    label_w, text_w = 150, 150
    top = 24 if title else 4
    height = top + row * len(bars) + 4
    peak = max([b.value for b in bars if b.value is not None] or [1.0]) or 1.0
    scale = (width - label_w - text_w) / peak
    groups = sorted({b.group for b in bars})
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    if title:
        parts.append(f'<text x="0" y="16" class="chart-title">{escape(title)}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        colour = COLOURS[groups.index(b.group) % len(COLOURS)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">'
            f"{escape(b.label)}</text>"
        )
        if b.value is None:
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="12" height="{row - 6}" '
                'fill="none" stroke="#888" stroke-dasharray="2,2"/>'
            )
            w = 12.0
        else:
            w = max(b.value * scale, 1.0)
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                f'fill="{colour}"><title>{escape(b.text)}</title></rect>'
            )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + row * 0.7:.1f}">{escape(b.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Point:
    at: dt.datetime
    value: float


def _time(value: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def points(rows: Sequence[tuple[str, float | None]]) -> list[Point]:
    out = [Point(t, float(v)) for s, v in rows if v is not None and (t := _time(s)) is not None]
    return sorted(out, key=lambda p: p.at)


def line_chart(
    series: dict[str, list[Point]], *, width: int = 480, height: int = 180, title: str = ""
) -> Markup:
    """Lines over time, one per named series, with the min/max of the y axis written."""
    pts = [p for s in series.values() for p in s]
    left, right, top, bottom = 48, 110, 22, 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    if not pts:
        parts.append("</svg>")
        return Markup("".join(parts))
    t0 = min(p.at for p in pts).timestamp()
    t1 = max(p.at for p in pts).timestamp()
    lo, hi = min(p.value for p in pts), max(p.value for p in pts)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    span_t = (t1 - t0) or 1.0
    pw, ph = width - left - right, height - top - bottom

    def xy(p: Point) -> tuple[float, float]:
        x = left + (p.at.timestamp() - t0) / span_t * pw
        y = top + (hi - p.value) / (hi - lo) * ph
        return x, y

    parts.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{hi:g}</text>'
        f'<text x="{left - 4}" y="{top + ph}" text-anchor="end">{lo:g}</text>'
        f'<text x="{left}" y="{height - 6}">{min(p.at for p in pts):%Y-%m-%d}</text>'
        f'<text x="{left + pw}" y="{height - 6}" text-anchor="end">'
        f"{max(p.at for p in pts):%Y-%m-%d}</text>"
    )
    for i, (name, s) in enumerate(series.items()):
        if not s:
            continue
        colour = COLOURS[i % len(COLOURS)]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, s))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>'
        )
        for p in s:
            x, y = xy(p)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(name)} {p.value:g} {p.at:%Y-%m-%d %H:%M}</title></circle>"
            )
        parts.append(
            f'<text x="{left + pw + 8}" y="{top + 12 + 14 * i}" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
