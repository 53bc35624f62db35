"""Charts: PNG bytes of the right size, with ticks that fit the data."""

from __future__ import annotations

import io
import itertools

from PIL import Image

from sweep.track import plots


def test_charts_are_pngs_of_the_stated_size():
    curve = plots.loss_curve("t001", {"loss": [100.0, 10.0, 1e30]}, "diverged at epoch 4")
    lrs = plots.final_loss_vs_lr({"scale": ([1e-2, 1e-3], [2.93, 3.1]), "none": ([1e-5], [29.0])})
    for png in (curve, lrs):
        assert Image.open(io.BytesIO(png)).size == (plots.WIDTH, plots.HEIGHT)


def test_log_ticks_cover_decades_and_narrow_ranges():
    assert plots._log_ticks(1, 1e4) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert plots._log_ticks(0.5, 3) == [0.5, 1.0, 2.0]
    assert plots._log_ticks(2.9, 5.93) == [3.0, 4.0, 5.0]


def test_tick_labels_never_overlap_and_absurd_losses_do_not_squash_the_range():
    from PIL import ImageFont

    font = ImageFont.load_default(size=13)
    axis = plots.WIDTH - plots.LEFT - plots.RIGHT
    most = axis // plots.X_TICK_PX
    ticks = plots._log_ticks(1e-12, 1e3, most)  # a random search's learning rates
    assert 2 <= len(ticks) <= most
    px = plots._scale(1e-12, 1e3, True, 0, axis)
    gaps = [px(b) - px(a) for a, b in itertools.pairwise(ticks)]
    widest = max(font.getlength(f"{t:g}") for t in ticks)
    assert min(gaps) > widest + 4, (gaps, widest)
    y_ticks = plots._log_ticks(1e4, 1e35, (plots.HEIGHT - plots.TOP - plots.BOTTOM) // 26)
    assert len(y_ticks) <= (plots.HEIGHT - plots.TOP - plots.BOTTOM) // 26
    # a best loss of 2.9 and a finite 1e35: the axis stops at 1e6 times the best
    assert plots._bounds([2.9, 40.0, 1e35], True) == (2.9, 2.9e6)
