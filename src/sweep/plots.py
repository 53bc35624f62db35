"""PNG figures of loss curves, rendered off-screen; callers get bytes, not figures."""

from __future__ import annotations

import io
from collections.abc import Sequence


def _figure(width: float = 6.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def loss_curve(title: str, curves: dict[str, Sequence[float]], note: str = "") -> bytes:
    """Loss against epoch (log scale: losses fall by orders of magnitude) for one run."""
    fig = _figure()
    ax = fig.add_subplot()
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label, linewidth=1.2)
    ax.set(xlabel="epoch", ylabel="MSE loss", title=title, yscale="log")
    if note:
        ax.text(0.98, 0.95, note, transform=ax.transAxes, ha="right", va="top", color="tab:red")
    if len(curves) > 1:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return _png(fig)


def final_loss_vs_lr(series: dict[str, tuple[list[float], list[float]]]) -> bytes:
    """Final loss against learning rate, one line per group (e.g. normalization)."""
    fig = _figure()
    ax = fig.add_subplot()
    for label, (lrs, losses) in sorted(series.items()):
        pairs = sorted(zip(lrs, losses, strict=True))
        ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker="o", label=label)
    ax.set(xlabel="learning rate", ylabel="final loss", xscale="log", yscale="log")
    ax.set_title("Final loss by learning rate (diverged runs omitted)")
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return _png(fig)
