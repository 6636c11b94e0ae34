"""Notebook 06 (64 x 64, your own images, disentanglement) run end to end with papermill on tiny
sizes: on shapes64, and on a folder of colour images the test writes itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import number, run_notebook
from helpers.config import ParameterError, check_parameters
from helpers.model import load_checkpoint


def test_06_on_shapes64(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAE_LAB_RUNS_DIR", str(runs))
    nb, text, images = run_notebook("06_higher_resolution", tmp_path, N_TRAIN=400, N_TEST=300, BETAS=[1, 4],
                                    MAIN_BETA=4, BATCH_SIZE=50, TRAIN_IMAGES=800)
    assert "shapes64: 400 training and 300 test images of shape (C, H, W) = (1, 64, 64)" in text
    assert "classes: square, ellipse, heart; factors known: yes" in text
    assert "pixels: binary (0 or 255)" in text
    assert "likelihood: bernoulli (black-and-white pixels); latent_dim: 10" in text
    assert "budget: 2 epochs of 400 images = 800 images per model" in text   # TRAIN_IMAGES / training images
    assert "image (1, 64, 64): convolutions (8, 16, 32, 64), features 64 x 4 x 4, 619,973 parameters" in text
    assert "2 models trained in" in text
    model = load_checkpoint(runs / "shapes64.pt")
    assert model.image_shape == (1, 64, 64) and model.latent_dim == 10 and model.config["beta"] == 4
    # the figures are the shipped model's (MAIN_MODEL "auto" on shapes64), the sweep joins it in the table
    assert "figures below: the shipped shapes64.pt" in text
    assert number(r"mean IoU on 300 held-out images: ([\d.]+)", text) > 0.5
    assert text.count("mean IoU by scale 0.5 ... 1:") == 1
    # the MIG table: a ceiling row and one row per beta, each MIG in [0, 1]
    ceiling = number(r"true factors \(ceiling\)\s+([\d.]+)", text)
    assert 0.5 < ceiling < 1.0
    for row in ("beta = 1", "beta = 4", "shipped shapes64.pt"):
        mig = number(rf"{row}\s+[\d.]+\s+[\d.]+\s+\d+\s+[\d.]+\s+([\d.]+)", text)
        assert 0.0 <= mig < ceiling
    assert "highest MIG: beta = " in text
    for name in ("shape", "scale", "orientation", "x", "y"):
        assert f"{name:>11s}: best dimension z[" in text
    assert images >= 7  # examples, factor sweep, reconstructions, samples, traversals, MI matrix, MIG plot


def _colour_folder(root, n=24):
    rng = np.random.default_rng(0)
    for cls in ("red", "blue"):
        for i in range(n // 2):
            img = np.zeros((72, 90, 3), dtype=np.uint8)
            x0, y0 = rng.integers(5, 40, 2)
            img[y0:y0 + 25, x0:x0 + 25, 0 if cls == "red" else 2] = 255
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / cls / f"{i}.png")
    return root


def test_06_on_your_own_images(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAE_LAB_RUNS_DIR", str(runs))
    folder = _colour_folder(tmp_path / "my images")
    nb, text, _ = run_notebook("06_higher_resolution", tmp_path, DATASET=f"folder:{folder}", BETAS=[1],
                               MAIN_BETA=1, BATCH_SIZE=8, TRAIN_IMAGES=1024)
    # the budget rule: a small folder trains for TRAIN_IMAGES images (here 1,024), not one epoch
    assert "pixels: colour (RGB)" in text
    assert "likelihood: gaussian (pixels are not black and white); latent_dim: 32" in text
    assert "budget: 47 epochs of 22 images = 1,034 images per model" in text
    rmse = number(r"root mean square ([\d.]+) on the \[0, 1\] scale", text)
    baseline = number(r"the mean training image as every reconstruction: ([\d.]+)", text)
    assert 0.0 < rmse < 1.0 and 0.0 < baseline < 1.0
    assert f"folder:{folder}: 22 training and 2 test images of shape (C, H, W) = (3, 64, 64)" in text
    assert "classes: blue, red; factors known: no" in text
    assert "image (3, 64, 64): convolutions (8, 16, 32, 64)" in text
    assert "no recorded factors" in text and "No known factors for this data set: MIG needs them" in text
    model = load_checkpoint(runs / "images.pt")
    assert model.image_shape == (3, 64, 64)
    assert model.latent_dim == 32 and model.likelihood == "gaussian"
    assert model.decode(torch.zeros(1, 32)).shape == (1, 3, 64, 64)
    widgets = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) == 1  # the explorer, in colour


def test_06_parameters_are_checked_in_one_call():
    with pytest.raises(ParameterError, match=r"LATENT_DIM='big' is not allowed: .* or 'auto'"):
        check_parameters(LATENT_DIM="big", auto=("LATENT_DIM",))
    with pytest.raises(ParameterError, match="TRAIN_IMAGES=0 is not allowed"):
        check_parameters(TRAIN_IMAGES=0)
    with pytest.raises(ParameterError, match=r"MAIN_BETA=2 is not allowed: MAIN_BETA must be one of BETAS = \(1, 4, 16\)"):
        check_parameters(BETAS=(1, 4, 16), MAIN_BETA=2)
    with pytest.raises(ParameterError, match="DATASET='folder:' is not allowed"):
        check_parameters(DATASET="folder:")
