"""Papermill runs of all four notebooks with tiny parameters, in a temporary folder, asserting on
what they produce; plus the structure every lesson must have."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from conftest import ROOT, offline_data_dir

NB_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01_data", "02_train_vae", "03_latent_visualization", "04_generation_interpolation"]


def run(name, tmp_path, **params):
    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(str(NB_DIR / f"{name}.ipynb"), str(out), cwd=str(NB_DIR),
                        parameters={"DATA_DIR": str(offline_data_dir()), **params},
                        progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # a notebook that "ran" must have executed every code cell (pytorch/tutorials' 0-second rule)
    assert code and all(c.execution_count for c in code), f"{name}: cells left unexecuted"
    text = "\n".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    return nb, text, images


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in output"
    return float(m.group(1))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_a_lesson(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert "## What you will learn" in nb.cells[0].source and "## What you need" in nb.cells[0].source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = re.findall(r"^([A-Z_][A-Z0-9_]*)\s*=", tagged[0].source, re.M)
    assert {"SEED", "DATA_DIR"} <= set(names)
    for line in tagged[0].source.splitlines():
        if re.match(r"^[A-Z_]+\s*=", line):
            assert "#" in line, f"{name}: parameter without a comment: {line}"
    assert "## Exercises" in nb.cells[-1].source and "Hint" in nb.cells[-1].source
    assert any("NBVAL_CHECK_OUTPUT" in c.source for c in nb.cells if c.cell_type == "code")


def test_01_data(tmp_path):
    _, text, images = run("01_data", tmp_path, N_EXAMPLES=2)
    assert "train images (60000, 28, 28)" in text and "test  images (10000, 28, 28)" in text
    assert "perfectly balanced: True" in text and "round trip exact: True" in text
    assert images == 5  # class grid, balance bars, histogram + mean image, class means, scaling


def test_02_trains_saves_and_03_04_use_that_checkpoint(tmp_path):
    ckpt = tmp_path / "my_vae.pt"
    _, text, images = run("02_train_vae", tmp_path, EPOCHS=2, TRAIN_SUBSET=600, LATENT_DIM=8,
                          CHECKPOINT_OUT=str(ckpt), SEED=1)
    from helpers.model import load_checkpoint

    model = load_checkpoint(ckpt)
    assert model.latent_dim == 8 and len(model.history["train_loss"]) == 2
    assert model.config["train_size"] == 600 and model.config["seed"] == 1
    assert "reloaded model decodes identically: True" in text
    assert "latent_dim = 8" in text
    assert 0.0 <= number(r"accuracy on their reconstructions: ([\d.]+)", text) <= 1.0
    assert "fitted 1 mixture(s) of 10 Gaussians to 600 training codes; saved into my_vae.pt" in text
    assert number(r"samples from the prior N\(0, I\): Fréchet distance ([\d.]+)", text) > 0
    assert number(r"samples from the fitted mixture: Fréchet distance ([\d.]+)", text) > 0
    assert "reloaded model carries the fitted sampler: True" in text
    assert model.sampler.groups == 1 and model.sampler.components == 10 and model.sampler.latent_dim == 8
    assert images == 3  # loss curves, reconstructions, prior vs mixture samples

    _, text3, images3 = run("03_latent_visualization", tmp_path, CHECKPOINT=str(ckpt), N_POINTS=300)
    assert "latent_dim = 8" in text3 and "t-SNE of 300 codes" in text3
    assert 0.1 < number(r"latent kNN accuracy \(k=5, train codes -> test codes\): ([\d.]+)", text3) <= 1.0
    assert -1.0 <= number(r"silhouette of the test codes by class: (-?[\d.]+)", text3) <= 1.0
    assert len(re.findall(r"of '.+' test codes are voted '.+'", text3)) == 5
    assert "This model has latent_dim = 8: train one with LATENT_DIM = 2" in text3
    assert images3 == 6  # KL per dim, PCA, t-SNE, confusion, per-class bars, worst pair

    _, text4, images4 = run("04_generation_interpolation", tmp_path, CHECKPOINT=str(ckpt), N_SAMPLES=4, STEPS=3,
                            GENERATE_CLASS="Bag", N_STYLES=2)
    assert "latent_dim = 8" in text4 and "model.sample draws z from a mixture fitted to the training codes" in text4
    assert "both paths start at z_A and end at z_B: True" in text4
    assert "conditional model: cvae.pt from checkpoints/, latent_dim = 16" in text4
    assert 0 <= number(r"the judge classifier calls (\d+) of 16 samples 'Bag'", text4) <= 16
    assert images4 == 5  # prior samples, interpolation strips, norms, chosen class, one z ten classes


def test_03_draws_the_decoded_manifold_of_a_2d_model(tmp_path):
    ckpt = tmp_path / "vae2d.pt"
    run("02_train_vae", tmp_path, EPOCHS=1, TRAIN_SUBSET=400, LATENT_DIM=2, CHECKPOINT_OUT=str(ckpt))
    _, text, images = run("03_latent_visualization", tmp_path, CHECKPOINT=str(ckpt), N_POINTS=200)
    assert "latent_dim = 2" in text and "train one with LATENT_DIM = 2" not in text
    assert images == 8  # the six of any model, then the decoded manifold and the 2-D code scatter


def test_03_and_04_fall_back_to_the_shipped_checkpoint(tmp_path):
    """With no run of notebook 02 (an empty runs/ folder), 03 and 04 use checkpoints/vae.pt."""
    _, text, _ = run("04_generation_interpolation", tmp_path, N_SAMPLES=4, STEPS=4,
                     ITEM_A="Trouser:2", ITEM_B=5)
    assert "model: vae.pt from checkpoints/" in text
    assert "conditional model: cvae.pt from checkpoints/" in text
    assert re.search(r"interpolating test item \d+ \(Trouser\) -> 5 \(Trouser\)", text)
    _, text3, _ = run("03_latent_visualization", tmp_path, N_POINTS=200)
    assert "model: vae.pt from checkpoints/" in text3


@pytest.mark.parametrize("name,params,message", [
    ("02_train_vae", {"LATENT_DIM": 0}, "LATENT_DIM=0 is not allowed: LATENT_DIM must be a whole number >= 1"),
    ("02_train_vae", {"LATENT_DIM": 2.5}, "LATENT_DIM=2.5 is not allowed"),
    ("02_train_vae", {"EPOCHS": -3}, "EPOCHS=-3 is not allowed"),
    ("02_train_vae", {"BATCH_SIZE": "64"}, "BATCH_SIZE='64' is not allowed"),
    ("02_train_vae", {"LIKELIHOOD": "poisson"}, "LIKELIHOOD='poisson' is not allowed: LIKELIHOOD must be one of 'gaussian', 'bernoulli'"),
    ("02_train_vae", {"BETA": -1.0}, "BETA=-1.0 is not allowed"),
    ("02_train_vae", {"TRAIN_SUBSET": 70000}, "TRAIN_SUBSET=70000 is not allowed: TRAIN_SUBSET must be a whole number between 1 and 60000"),
    ("02_train_vae", {"DEVICE": "gpu"}, "DEVICE='gpu' is not allowed"),
    ("03_latent_visualization", {"CHECKPOINT": "missing.pt"}, "No checkpoint at missing.pt"),
    ("04_generation_interpolation", {"ITEM_A": "Sock"}, "item 'Sock' is not allowed"),
    ("04_generation_interpolation", {"GENERATE_CLASS": "Sock"}, "GENERATE_CLASS='Sock' is not allowed"),
    ("04_generation_interpolation", {"CVAE_CHECKPOINT": "../checkpoints/vae.pt"},
     "holds an unconditional VAE but a conditional one is expected"),
])
def test_bad_parameters_stop_with_a_readable_error(tmp_path, name, params, message):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run(name, tmp_path, **params)
    assert message in str(err.value)


def test_same_parameters_same_printed_numbers(tmp_path):
    """Two papermill runs of 02 with the same parameters print the same losses and metrics."""
    params = dict(EPOCHS=1, TRAIN_SUBSET=300, LATENT_DIM=4, SEED=7)
    _, a, _ = run("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "a.pt"), **params)
    _, b, _ = run("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "b.pt"), **params)

    def numbers(text):
        keep = [line for line in text.splitlines()
                if re.match(r"(epoch 1:|test negative ELBO|judge classifier|reconstruction \(|KL  |[\d,]+ samples from)", line)]
        return [re.sub(r", [\d.]+ s$", "", line) for line in keep]  # wall-clock time differs

    assert len(numbers(a)) == 8 and numbers(a) == numbers(b)
