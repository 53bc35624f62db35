"""Charts: PNG bytes of the right size, with ticks that fit the data."""

from __future__ import annotations

import io

from PIL import Image

from sweep import plots


def test_charts_are_pngs_of_the_stated_size():
    curve = plots.loss_curve("t001", {"loss": [100.0, 10.0, 1e30]}, "diverged at epoch 4")
    lrs = plots.final_loss_vs_lr({"scale": ([1e-2, 1e-3], [2.93, 3.1]), "none": ([1e-5], [29.0])})
    for png in (curve, lrs):
        assert Image.open(io.BytesIO(png)).size == (plots.WIDTH, plots.HEIGHT)


def test_log_ticks_cover_decades_and_narrow_ranges():
    assert plots._log_ticks(1, 1e4) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert plots._log_ticks(0.5, 3) == [0.5, 1.0, 2.0]
    assert plots._log_ticks(2.9, 5.93) == [3.0, 4.0, 5.0]
