"""PNG line charts with log-scaled losses; callers get bytes, not figures.

Drawn with Pillow: a sweep renders one chart per trial and two for the parent, and matplotlib
took tens of milliseconds per trial chart and about a second for the parent's log-log chart
(tick labels measured hundreds of times), CPU that the tracking server on the same machine
needed while the sweep ships its points.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 46, 44
# Room per tick label: x labels are up to ~7 characters wide, y labels one line high.
X_TICK_PX, Y_TICK_PX = 64, 26
# A loss this many times the smallest one shown is drawn at the top edge: a finite but absurd
# value (a run on its way to diverging) would otherwise squash the useful range flat.
MAX_SPAN = 1e6

Series = dict[str, tuple[Sequence[float], Sequence[float]]]  # label -> (xs, ys)


def loss_curve(title: str, curves: dict[str, Sequence[float]], note: str = "") -> bytes:
    """Loss against epoch on a log axis (losses fall by orders of magnitude)."""
    series = {label: (range(1, len(c) + 1), c) for label, c in curves.items()}
    return _chart(title, series, "epoch", "MSE loss (log scale)", note=note)


def final_loss_vs_lr(best: dict[str, tuple[list[float], list[float]]]) -> bytes:
    """Final loss against learning rate, one line per group (e.g. normalization)."""
    series: Series = {}
    for label, (lrs, losses) in sorted(best.items()):
        pairs = sorted(zip(lrs, losses, strict=True))
        series[label] = ([p[0] for p in pairs], [p[1] for p in pairs])
    title = "Best final loss by learning rate (diverged trials left out)"
    return _chart(title, series, "learning rate", "final loss (log scale)", x_log=True, dots=True)


def _linear_ticks(lo: float, hi: float) -> list[float]:
    raw = max((hi - lo) / 5, 1)
    unit = 10 ** math.floor(math.log10(raw))
    step = next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw)
    return [t for t in range(0, int(hi) + 1, int(step)) if t >= lo] or [lo]


def _log_ticks(lo: float, hi: float, most: int = 8) -> list[float]:
    """Round values on a log axis, at most `most` of them (every k-th decade if need be)."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    ticks = [10.0**d for d in decades if lo <= 10.0**d <= hi]
    if len(ticks) > most:
        ticks = ticks[:: math.ceil(len(ticks) / most)]
    if len(ticks) < 3:
        ticks = [m * 10.0**d for d in decades for m in (1, 2, 5) if lo <= m * 10.0**d <= hi]
    if len(ticks) < 3:  # less than a decade: evenly spaced round values
        unit = 10 ** math.floor(math.log10((hi - lo) / 4))
        step = next(m * unit for m in (1, 2, 2.5, 5, 10) if (hi - lo) / (m * unit) <= 5)
        ticks = [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
    return ticks if len(ticks) >= 2 else [lo, hi]


def _scale(lo: float, hi: float, log: bool, start: float, end: float):
    """Pixel position of a value on an axis from `start` to `end` pixels."""
    f = math.log10 if log else float
    span = (f(hi) - f(lo)) or 1.0
    return lambda v: start + (end - start) * (f(min(max(v, lo), hi)) - f(lo)) / span


def _bounds(values: list[float], log: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if log:
        hi = min(hi, lo * MAX_SPAN)
    if log and hi / lo < 1.01:
        return lo / 1.01, hi * 1.01
    return (lo - 1, hi + 1) if hi == lo else (lo, hi)


def _chart(title: str, series: Series, x_label: str, y_label: str, note: str = "",
           x_log: bool = False, dots: bool = False) -> bytes:  # fmt: skip
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    draw.text((WIDTH / 2, 4), title, fill="black", font=font, anchor="ma")
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    draw.rectangle((x0, y0, x1, y1), outline="black")
    shown = {
        label: [(x, y) for x, y in zip(xs, ys, strict=True)
                if math.isfinite(y) and y > 0 and (x > 0 or not x_log)]
        for label, (xs, ys) in series.items()
    }  # fmt: skip
    xs = [x for pts in shown.values() for x, _ in pts]
    ys = [y for pts in shown.values() for _, y in pts]
    if xs:
        (x_lo, x_hi), (y_lo, y_hi) = _bounds(xs, x_log), _bounds(ys, True)
        if max(ys) > y_hi:
            note = "; ".join(filter(None, [note, f"losses above {y_hi:.3g} drawn at the top"]))
        px, py = _scale(x_lo, x_hi, x_log, x0, x1), _scale(y_lo, y_hi, True, y1, y0)
        for t in _log_ticks(y_lo, y_hi, max(2, (y1 - y0) // Y_TICK_PX)):
            draw.line((x0, py(t), x1, py(t)), fill="#e6e6e6")
            draw.text((x0 - 6, py(t)), f"{t:.4g}", fill="black", font=font, anchor="rm")
        x_ticks = _log_ticks(x_lo, x_hi, max(2, (x1 - x0) // X_TICK_PX)) if x_log else (
            _linear_ticks(x_lo, x_hi))  # fmt: skip
        for t in x_ticks:
            draw.line((px(t), y1, px(t), y1 + 4), fill="black")
            draw.text((px(t), y1 + 6), f"{t:g}", fill="black", font=font, anchor="mt")
        for i, (label, pts) in enumerate(shown.items()):
            color = COLORS[i % len(COLORS)]
            stride = max(1, len(pts) // (2 * (x1 - x0)))  # a 5000-epoch curve: ~1 point a pixel
            line = [(px(x), py(y)) for x, y in pts[::stride]]
            if len(line) > 1:
                draw.line(line, fill=color, width=2, joint="curve")
            for x, y in line if dots else ():
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=color)
            if len(shown) > 1:
                draw.text((x1 - 8, y0 + 8 + 16 * i), label, fill=color, font=font, anchor="ra")
    draw.text(((x0 + x1) / 2, HEIGHT - 6), x_label, fill="black", font=font, anchor="mb")
    draw.text((4, y0 - 22), y_label, fill="black", font=font)
    if note:
        draw.text((x1, y0 - 22), note, fill="#d62728", font=font, anchor="ra")
    buffer = io.BytesIO()
    img.save(buffer, format="png", compress_level=3)
    return buffer.getvalue()
