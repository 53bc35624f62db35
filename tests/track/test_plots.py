"""Charts: PNG bytes of the stated size, whatever the losses (diverged, empty, one point), the
same when drawn from several threads at once. (A trial's own chart, only with
`tracking.run_chart=true`: tests/app/test_dispatch.py.)"""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from sweep.track import plots

LOSSES = [2.93 + 77.0 * math.exp(-e / 300) for e in range(5000)]


def image(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    img.load()  # decodes every pixel: a truncated or corrupt PNG raises here
    assert img.format == "PNG" and img.size == (plots.WIDTH, plots.HEIGHT) == (640, 400)
    return img


def colors(img: Image.Image) -> set[tuple[int, int, int]]:
    return {c for _, c in img.convert("RGB").getcolors(maxcolors=1 << 20)}


def reddish(img: Image.Image) -> int:
    """Pixels of the note's red (#d62728): the note is drawn."""
    return sum(n for n, (r, g, b) in img.convert("RGB").getcolors(1 << 20)
               if r > 150 and g < 90 and b < 90)  # fmt: skip


def test_a_loss_curve_is_a_png_of_the_stated_size_with_its_lines():
    img = image(plots.loss_curve("t001", {"loss": LOSSES, "val_loss": [v * 1.1 for v in LOSSES]}))
    seen = colors(img)
    for hex_ in plots.COLORS[:2]:  # both curves are drawn, in the first two colors
        assert tuple(int(hex_[i : i + 2], 16) for i in (1, 3, 5)) in seen
    assert reddish(img) == 0  # no note


@pytest.mark.parametrize(
    "losses",
    [[100.0, 10.0, 1e30], [100.0, 10.0, math.inf], [100.0, math.nan, 10.0, -math.inf],
     [100.0, 10.0, 1e300, math.inf, math.nan]],
)  # fmt: skip
def test_diverged_runs_still_chart_with_their_note(losses):
    img = image(plots.loss_curve("t001", {"loss": losses}, "diverged at epoch 4"))
    assert reddish(img) > 50
    blue = tuple(int(plots.COLORS[0][i : i + 2], 16) for i in (1, 3, 5))
    assert blue in colors(img)  # the finite part of the curve is drawn


def test_a_huge_finite_loss_is_capped_and_said_so():
    capped = image(plots.loss_curve("t001", {"loss": [100.0, 10.0, 1e30]}))
    plain = image(plots.loss_curve("t001", {"loss": [100.0, 10.0, 1.0]}))
    assert reddish(capped) > 50 and reddish(plain) == 0  # "losses above 1e+07 drawn at the top"


@pytest.mark.parametrize(
    "curves",
    [{}, {"loss": []}, {"loss": [math.inf]}, {"loss": [5.0]}, {"loss": [], "val_loss": [3.0]},
     {"loss": [2.93, 2.93, 2.93]}, {"loss": [0.0, -1.0]}],
)  # fmt: skip
def test_loss_curve_takes_empty_one_point_and_flat_series(curves):
    image(plots.loss_curve("Best trials", curves))


@pytest.mark.parametrize(
    "series",
    [{}, {"scale": ([], [])}, {"scale": ([1e-2], [2.93])},
     {"scale": ([1e-2, 1e-3], [2.93, 3.1]), "none": ([1e-5], [29.0])},
     {"scale": ([1e-12, 1e-3, 10.0, 0.0], [2.93, 1e35, math.inf, 3.0])}],
)  # fmt: skip
def test_final_loss_vs_lr_takes_empty_one_point_and_wide_series(series):
    image(plots.final_loss_vs_lr(series))


def test_charts_drawn_from_threads_at_once_are_the_same_as_one_at_a_time():
    one = plots.loss_curve("t001", {"loss": LOSSES[:300]}, "pruned at epoch 300")
    with ThreadPoolExecutor(4) as pool:
        many = list(pool.map(lambda _: plots.loss_curve(
            "t001", {"loss": LOSSES[:300]}, "pruned at epoch 300"), range(8)))  # fmt: skip
    assert all(png == one for png in many)
