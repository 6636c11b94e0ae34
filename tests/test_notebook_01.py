"""Notebook 01 (data) run end to end with papermill: the facts its lesson rests on. (Its one
check_parameters call: tests/test_notebooks.py.)"""

from __future__ import annotations

import math

import pytest

from conftest import number, run_notebook


def test_01_data(tmp_path):
    nb, text, _ = run_notebook("01_data", tmp_path, N_EXAMPLES=2)
    # the two splits, balanced
    assert "train images (60000, 28, 28)" in text and "test  images (10000, 28, 28)" in text
    assert "perfectly balanced: True" in text
    assert number(r"always guessing the most frequent class: ([\d.]+)%", text) == 10.0
    # the scaling is exact both ways
    assert "background pixel 0 -> -1.0" in text and "full ink 255 -> 1.0" in text
    assert "round trip exact: True" in text
    # "half of all pixels are background, nearly all the ink is grey"
    assert 45 < number(r"exactly 0 \(background\): ([\d.]+)%", text) < 55
    assert number(r"([\d.]+)% of the non-background pixels", text) > 95
    # "not centred": the mean maps to about -0.43, half the pixels sit at -1, the median is -1
    assert number(r"mean x (-[\d.]+)", text) == pytest.approx(-0.43, abs=0.01)
    assert 45 < number(r"share of pixels at exactly -1: ([\d.]+)%", text) < 55
    assert number(r"median x (-?[\d.]+)", text) == -1.0
    # "inputs of order 1": bytes blow the first layer's outputs up by more than a hundred
    assert number(r"first layer's outputs (\d+) times larger", text) > 100
    # "one unit for every figure": [-1, 1] vs [0, 1] shifts every image's -log p by 784 ln 2
    shift = 784 * math.log(2)
    assert number(r"difference for every image: ([\d.]+) to", text) == pytest.approx(shift, abs=0.1)
    assert number(r"difference for every image: [\d.]+ to ([\d.]+)", text) == pytest.approx(shift, abs=0.1)
    # every cell that shows a figure drew one, and the grid honours N_EXAMPLES
    for cell in nb.cells:
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            pngs = sum("image/png" in o.get("data", {}) for o in cell.outputs)
            assert pngs == cell.source.count("plt.show()"), f"{cell.id}: a figure is missing"
    grid = next(c for c in nb.cells if c.cell_type == "code" and "random training images per class" in c.source)
    shown = [o["data"].get("text/plain", "") for o in grid.outputs if "data" in o]
    assert any(s.endswith(" with 20 Axes>") for s in shown), shown  # 10 classes x N_EXAMPLES=2
