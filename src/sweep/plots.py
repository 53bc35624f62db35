"""PNG figures of loss curves; callers get bytes, not figures.

A sweep renders one loss curve per trial, so that figure is drawn with Pillow (a few
milliseconds) rather than matplotlib (tens to hundreds here, holding the GIL that the
threads shipping data to MLflow need). The sweep-level plots use matplotlib.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 34, 44


def _x_ticks(n: int) -> list[int]:
    raw = max(n / 5, 1)
    unit = 10 ** math.floor(math.log10(raw))
    step = next(m * unit for m in (1, 2, 5, 10) if m * unit >= raw)
    return [int(t) for t in range(0, n + 1, int(step)) if t >= 1] or [1]


def _y_ticks(lo: float, hi: float) -> list[float]:
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    ticks = [10.0**d for d in decades if lo <= 10.0**d <= hi]
    if len(ticks) < 3:
        ticks = [m * 10.0**d for d in decades for m in (1, 2, 5) if lo <= m * 10.0**d <= hi]
    return ticks if len(ticks) >= 2 else [lo, hi]


def loss_curve(title: str, curves: dict[str, Sequence[float]], note: str = "") -> bytes:
    """Loss against epoch on a log axis (losses fall by orders of magnitude)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    draw.text((WIDTH / 2, 2), title, fill="black", font=font, anchor="ma")
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    draw.rectangle((x0, y0, x1, y1), outline="black")
    values = [v for c in curves.values() for v in c if v > 0 and math.isfinite(v)]
    n = max((len(c) for c in curves.values()), default=0)
    if values and n:
        lo, hi = min(values), max(values)
        if hi / lo < 1.01:
            lo, hi = lo / 1.01, hi * 1.01
        span = math.log10(hi) - math.log10(lo)

        def px(epoch: float) -> float:
            return x0 + (x1 - x0) * (epoch - 1) / max(n - 1, 1)

        def py(value: float) -> float:
            return y1 - (y1 - y0) * (math.log10(max(value, lo)) - math.log10(lo)) / span

        for t in _y_ticks(lo, hi):
            draw.line((x0, py(t), x1, py(t)), fill="#e6e6e6")
            draw.text((x0 - 6, py(t)), f"{t:.3g}", fill="black", font=font, anchor="rm")
        for t in _x_ticks(n):
            draw.line((px(t), y1, px(t), y1 + 4), fill="black")
            draw.text((px(t), y1 + 6), str(t), fill="black", font=font, anchor="mt")
        for i, (label, curve) in enumerate(curves.items()):
            stride = max(1, len(curve) // (2 * (x1 - x0)))
            points = [(px(e), py(v)) for e, v in enumerate(curve, 1) if (e - 1) % stride == 0]
            color = COLORS[i % len(COLORS)]
            if len(points) > 1:
                draw.line(points, fill=color, width=2)
            if len(curves) > 1:
                draw.text((x1 - 8, y0 + 8 + 16 * i), label, fill=color, font=font, anchor="ra")
    draw.text(((x0 + x1) / 2, HEIGHT - 6), "epoch", fill="black", font=font, anchor="mb")
    draw.text((4, y0 - 16), "MSE loss (log scale)", fill="black", font=font)
    if note:
        draw.text((x1, y0 - 16), note, fill="#d62728", font=font, anchor="ra")
    buffer = io.BytesIO()
    img.save(buffer, format="png", compress_level=3)
    return buffer.getvalue()


def final_loss_vs_lr(series: dict[str, tuple[list[float], list[float]]]) -> bytes:
    """Final loss against learning rate, one line per group (e.g. normalization)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for label, (lrs, losses) in sorted(series.items()):
        pairs = sorted(zip(lrs, losses, strict=True))
        ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o", label=label)
    ax.set(xlabel="learning rate", ylabel="final loss", xscale="log", yscale="log")
    ax.set_title("Best final loss by learning rate (diverged trials left out)")
    if series:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
