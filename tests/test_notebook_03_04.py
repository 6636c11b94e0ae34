"""Papermill runs of notebooks 03 (latent space) and 04 (generation, interpolation, traversal).

The small models are trained with helpers.train.train_vae, the loop notebook 02 runs, on a few
hundred images (seconds); each is trained once per module.
"""

from __future__ import annotations

import re

import papermill as pm
import pytest
import torch

from conftest import number, run_notebook


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory, fmnist):
    """{latent_dim: path} of a 2-epoch model trained on 600 images, for latent_dim 8 and 2."""
    from helpers.model import ImageVAE
    from helpers.train import train_vae

    train, test = fmnist
    small = train.subset(600, seed=0)
    folder = tmp_path_factory.mktemp("tiny")
    paths = {}
    for dim in (8, 2):
        torch.manual_seed(0)
        paths[dim] = folder / f"tiny{dim}.pt"
        train_vae(ImageVAE(latent_dim=dim), small.scaled(), small.labels, test.scaled()[:500], test.labels[:500],
                  epochs=2, checkpoint=paths[dim], progress=False)
    return paths


def test_03_measures_separation_against_the_pixel_baseline(tmp_path, tiny_checkpoints):
    nb, text, _ = run_notebook("03_latent_visualization", tmp_path, CHECKPOINT=str(tiny_checkpoints[8]),
                                   VAE2D_CHECKPOINT=str(tiny_checkpoints[2]), TRAIN_SUBSET=2000, N_POINTS=300)
    assert "latent_dim = 8, trained 2 epochs" in text and "t-SNE of 300 codes" in text
    assert "2,000 training items vote for each of 10,000 test items" in text
    latent = number(r"latent codes \(8-D\): ([\d.]+)", text)
    pixels = number(r"raw pixels \(784-D\): +([\d.]+)", text)
    # 2 epochs on 600 images already group classes far above chance (0.1); the pixel vote with 2,000
    # references is a known figure for this subset, independent of the model
    assert 0.4 < latent < 0.9 and 0.75 < pixels < 0.85
    gap = latent - pixels
    assert f"({gap:+.3f})" in text
    assert ("worse than" in text) == (gap <= -0.01)
    sil = number(r"silhouette by class: latent codes (-?[\d.]+)", text)
    assert f"Silhouette {sil:.3f}, on a scale from -1 to 1 where 0 means" in text
    # the PCA view says how much of the variance its plane shows
    shown = number(r"the plane below shows ([\d.]+)% of the codes' variance", text)
    assert 2 / 8 * 100 <= shown < 100  # the two largest of 8 shares hold at least 2/8 of the total
    assert len(re.findall(r"of '.+' test codes are voted '.+'", text)) == 5
    two_d = number(r"2-D model: tiny2.pt from \w+/; kNN accuracy ([\d.]+)", text)
    assert 0.2 < two_d < latent
    # section 6 draws the decoded manifold and the 2-D codes of the 2-D model
    manifold = [c for c in nb.cells if "manifold_grid(" in c.source]
    assert len(manifold) == 1 and sum("image/png" in o.get("data", {}) for o in manifold[0].outputs) == 2


def test_03_with_a_2d_model_decodes_its_own_manifold(tmp_path, tiny_checkpoints):
    _, text, _ = run_notebook("03_latent_visualization", tmp_path, CHECKPOINT=str(tiny_checkpoints[2]),
                              VAE2D_CHECKPOINT="no-such-file.pt", TRAIN_SUBSET=1000, N_POINTS=200)
    # the main model is itself 2-D, so section 6 uses it and never opens VAE2D_CHECKPOINT
    assert "latent_dim = 2" in text and "2-D model: tiny2.pt" in text
    assert "the plane below shows 100.0% of the codes' variance" in text


def test_04_interpolates_and_traverses(tmp_path, tiny_checkpoints):
    nb, text, _ = run_notebook("04_generation_interpolation", tmp_path, CHECKPOINT=str(tiny_checkpoints[8]),
                                    N_SAMPLES=4, STEPS=3, ITEM_A="Trouser:2", ITEM_B=5)
    assert "latent_dim = 8" in text and "model.sample draws z from the prior N(0, I)" in text
    assert re.search(r"interpolating test item \d+ \(Trouser\) -> 5 \(Trouser\)", text)
    assert "both paths start at z_A and end at z_B: True" in text
    lerp_low = number(r"lerp : norm along the path from ([\d.]+)", text)
    slerp_low = number(r"slerp: norm along the path from ([\d.]+)", text)
    assert lerp_low <= slerp_low + 1e-6  # the straight line never keeps more norm than the great circle
    assert 0 < number(r"keeps (\d+)% of the endpoints' norm for the median random pair", text) <= 100
    traversal = [c for c in nb.cells if "traversal_codes(" in c.source]
    assert len(traversal) == 1 and any("image/png" in o.get("data", {}) for o in traversal[0].outputs)


def test_03_and_04_fall_back_to_the_shipped_checkpoints(tmp_path):
    """With no run of notebook 02 (an empty runs/ folder), 03 and 04 use checkpoints/."""
    _, text, _ = run_notebook("04_generation_interpolation", tmp_path, N_SAMPLES=4, STEPS=4)
    assert "model: vae.pt from checkpoints/" in text
    assert "model.sample draws z from a sampler fitted to the training codes" in text
    _, text3, _ = run_notebook("03_latent_visualization", tmp_path, TRAIN_SUBSET=1000, N_POINTS=200)
    assert "model: vae.pt from checkpoints/" in text3 and "2-D model: vae2d.pt from checkpoints/" in text3


@pytest.mark.parametrize("name,params,message", [
    ("03_latent_visualization", {"VAE2D_CHECKPOINT": "../checkpoints/vae.pt", "TRAIN_SUBSET": 500, "N_POINTS": 100},
     "it holds a model with latent_dim = 16, and section 6 needs latent_dim = 2"),
    ("04_generation_interpolation", {"ITEM_A": "Sock"}, "item 'Sock' is not allowed"),
])
def test_bad_parameters_stop_with_a_readable_error(tmp_path, name, params, message):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_notebook(name, tmp_path, **params)
    assert message in str(err.value)
