"""Three tiny inline-SVG charts (line, underwater area, bars) for the backtest report. Hand-made so the
report has no plotting dependency and opens offline; every text node is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 860, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 28, 40
GREEN, RED, BLUE, GREY = "#1a7f37", "#cf222e", "#0969da", "#8c959f"


@dataclass(frozen=True)
class Frame:
    """Maps data coordinates onto the plot area inside fixed margins."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def x(self, value: float) -> float:
        span = self.x_max - self.x_min
        return LEFT + (WIDTH - LEFT - RIGHT) * ((value - self.x_min) / span if span > 0 else 0.5)

    def y(self, value: float) -> float:
        span = self.y_max - self.y_min
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * ((value - self.y_min) / span if span > 0 else 0.5)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round-numbered ticks (1, 2 or 5 times a power of ten) spanning [lo, hi], so labels read cleanly."""
    if hi - lo <= abs(hi) * 1e-9:  # flat data: open a small window around it
        pad = abs(hi) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def _label(value: float, ticks: Sequence[float], unit: str) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:,.{decimals}f}{unit}"


def _text(x: float, y: float, text: str, *, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _svg(title: str, body: list[str]) -> str:
    heading = _text(WIDTH / 2, 16, title, extra=' font-size="13" font-weight="600"')
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{escape(title)}" '
        f'font-family="system-ui, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>{''.join(body)}{heading}</svg>"
    )


def _axes(frame: Frame, y_ticks: Sequence[float], unit: str, x_ticks: Sequence[tuple[float, str]]) -> list[str]:
    """Gridlines with labelled y ticks, labelled x ticks, and the plot border."""
    out = []
    for value in y_ticks:
        y = frame.y(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eaeef2"/>')
        out.append(_text(LEFT - 6, y + 4, _label(value, y_ticks, unit), anchor="end"))
    for value, label in x_ticks:
        x = frame.x(value)
        out.append(
            f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM + 4}" stroke="{GREY}"/>'
        )
        half = len(label) * 3.3  # rough half-width at font-size 11: keep edge labels inside the image
        anchor = "start" if x - half < 0 else "end" if x + half > WIDTH else "middle"
        out.append(_text(x, HEIGHT - BOTTOM + 16, label, anchor=anchor))
    box = f'x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}"'
    out.append(f'<rect {box} fill="none" stroke="{GREY}"/>')
    return out


def _no_data(title: str) -> str:
    return _svg(title, [_text(WIDTH / 2, HEIGHT / 2, "no data", extra=f' fill="{GREY}"')])


def spaced_labels(labels: Sequence[str], count: int = 6) -> list[tuple[float, str]]:
    """At most `count` evenly spaced (index, label) x ticks, always including the first and last."""
    if len(labels) <= count:
        return [(float(i), label) for i, label in enumerate(labels)]
    picks = sorted({round(k * (len(labels) - 1) / (count - 1)) for k in range(count)})
    return [(float(i), labels[i]) for i in picks]


def _series_frame(values: Sequence[float], include: Sequence[float]) -> tuple[Frame, list[float]]:
    ticks = nice_ticks(min([*values, *include]), max([*values, *include]))
    return Frame(0.0, float(max(len(values) - 1, 1)), ticks[0], ticks[-1]), ticks


def _points(frame: Frame, values: Sequence[float]) -> str:
    return " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))


def line_chart(values: Sequence[float], x_labels: Sequence[str], *, title: str, unit: str = "") -> str:
    """One series as a polyline over evenly spaced x positions (one per label)."""
    if not values:
        return _no_data(title)
    frame, ticks = _series_frame(values, [])
    body = _axes(frame, ticks, unit, spaced_labels(x_labels))
    body.append(f'<polyline points="{_points(frame, values)}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    if len(values) == 1:
        body.append(f'<circle cx="{frame.x(0):.1f}" cy="{frame.y(values[0]):.1f}" r="3" fill="{BLUE}"/>')
    return _svg(title, body)


def underwater_chart(values: Sequence[float], x_labels: Sequence[str], *, title: str, unit: str = "") -> str:
    """Values at or below zero, filled from the zero line down: how far under the last peak."""
    if not values:
        return _no_data(title)
    frame, ticks = _series_frame(values, [0.0, min(values) or -1.0])
    zero = frame.y(0.0)
    first, last = frame.x(0), frame.x(len(values) - 1)
    outline = f"{first:.1f},{zero:.1f} {_points(frame, values)} {last:.1f},{zero:.1f}"
    body = _axes(frame, ticks, unit, spaced_labels(x_labels))
    body.append(f'<polygon points="{outline}" fill="{RED}" fill-opacity="0.35" stroke="{RED}" stroke-width="1"/>')
    return _svg(title, body)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> str:
    """Labelled bars from zero, green up and red down, with each bar's value written on it."""
    if not bars:
        return _no_data(title)
    values = [v for _, v in bars]
    lo, hi = min([*values, 0.0]), max([*values, 0.0])
    room = (hi - lo) * 0.12  # headroom for the value written past each bar's end
    ticks = nice_ticks(lo - room if lo < 0 else lo, hi + room if hi > 0 else hi)
    frame = Frame(-0.5, len(bars) - 0.5, ticks[0], ticks[-1])
    slot = (WIDTH - LEFT - RIGHT) / len(bars)
    show = {i for i, _ in spaced_labels([label for label, _ in bars], count=24)}
    body = _axes(frame, ticks, unit, [(i, label) for i, (label, _) in enumerate(bars) if i in show])
    zero = frame.y(0.0)
    for i, (_, value) in enumerate(bars):
        top, height = min(zero, frame.y(value)), abs(frame.y(value) - zero)
        width = min(slot * 0.7, 48.0)
        x = frame.x(i) - width / 2
        color = GREEN if value >= 0 else RED
        body.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{color}"/>')
        if len(bars) <= 36:  # beyond that the numbers would overlap; the axis still reads
            label_y = top - 4 if value >= 0 else top + height + 12
            body.append(_text(frame.x(i), label_y, f"{value:+.{2 if abs(value) < 1 else 1}f}{unit}"))
    body.append(f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}" stroke="{GREY}"/>')
    return _svg(title, body)
