"""PNG line charts with log-scaled losses; callers get bytes, not figures.

Drawn with matplotlib's Agg canvas on a `Figure` of its own, no pyplot (no global figure
state: charts may be drawn from several threads), instead of the hand-written Pillow drawing
this module had, whose log ticks, tick thinning and label placement were ours to keep right.
matplotlib is imported with the first chart, not with this module (about 350 ms once per
process). A chart costs about 50 ms at 640x400, whether of 100 points or 5000 (the Pillow one
cost 5-8 ms; `python scripts/bench_plots.py`): far over the 2 ms a trial may spend on its
chart, so a trial's `loss_curve.png` is drawn only with `tracking.run_chart=true` (MLflow
charts every run's `loss` metric itself); the parent's two charts are drawn once per sweep.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
WIDTH, HEIGHT = 640, 400  # pixels
DPI = 100
# A loss this many times the smallest one shown is drawn at the top edge: a finite but absurd
# value (a run on its way to diverging) would otherwise squash the useful range flat.
MAX_SPAN = 1e6
# Points kept per curve: about one per pixel of the axis (a 5000-epoch curve is thinned).
MAX_POINTS = WIDTH

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


def _shown(series: Series, x_log: bool) -> dict[str, list[tuple[float, float]]]:
    """The points a log axis can show: finite, positive losses (and positive x on a log x)."""
    return {
        label: [(x, y) for x, y in zip(xs, ys, strict=True)
                if math.isfinite(y) and y > 0 and math.isfinite(x) and (x > 0 or not x_log)]
        for label, (xs, ys) in series.items()
    }  # fmt: skip


def _chart(title: str, series: Series, x_label: str, y_label: str, note: str = "",
           x_log: bool = False, dots: bool = False) -> bytes:  # fmt: skip
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogFormatter, MaxNLocator

    class Plain(LogFormatter):
        """matplotlib's choice of log ticks to label, as plain text (`3`, `0.01`, `1e+06`):
        its default, mathtext (`3x10^0`), is parsed anew for every figure, most of a chart's
        time."""

        def __call__(self, x, pos=None):
            return f"{x:.4g}" if super().__call__(x, pos) else ""

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.13, right=0.97, top=0.86, bottom=0.12)
    fig.text(0.5, 0.97, title, ha="center", va="top", fontsize=11)  # placed, not laid out
    ax = fig.add_subplot()
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_xscale("log" if x_log else "linear")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis) if x_log else (ax.yaxis,):
        axis.set_major_formatter(Plain())
        axis.set_minor_formatter(Plain(labelOnlyBase=False))
    if not x_log:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # epochs
    ax.grid(True, which="major", color="#e6e6e6")
    shown = _shown(series, x_log)
    ys = [y for pts in shown.values() for _, y in pts]
    if ys:
        lo, hi = min(ys), max(ys)
        top = min(hi, lo * MAX_SPAN)
        if hi > top:
            note = "; ".join(filter(None, [note, f"losses above {top:.3g} drawn at the top"]))
        margin = (top / lo) ** 0.03 if top / lo >= 1.01 else 1.2  # a flat curve: some room
        ax.set_ylim(lo / margin, top * margin)
        for i, (label, pts) in enumerate(shown.items()):
            kept = pts[:: max(1, len(pts) // MAX_POINTS)]
            if pts and kept[-1] is not pts[-1]:
                kept.append(pts[-1])  # the last epoch is always drawn
            ax.plot([x for x, _ in kept], [min(y, top) for _, y in kept], label=label,
                    color=COLORS[i % len(COLORS)], linewidth=1.5,
                    marker="o" if dots or len(kept) == 1 else None, markersize=4)  # fmt: skip
        if len(shown) > 1:
            ax.legend(loc="best", fontsize=9, frameon=False)
    else:
        ax.text(0.5, 0.5, "no finite losses to show", transform=ax.transAxes,
                ha="center", va="center", color="gray")  # fmt: skip
    if note:
        ax.text(1.0, 1.01, note, transform=ax.transAxes, ha="right", va="bottom",
                color="#d62728", fontsize=9)  # fmt: skip
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 3})
    return buffer.getvalue()
