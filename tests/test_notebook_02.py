"""Papermill runs of notebook 02 with tiny parameters: it trains through its own loop, saves a
checkpoint whose figures hold together and that 03-05 can load, repeats itself exactly, and stops
on a bad parameter. Checked through the saved files and the package, not the printed wording."""

import math

import papermill as pm
import pytest
import torch

from conftest import run_notebook


def test_02_trains_saves_a_consistent_checkpoint_with_a_sampler(tmp_path, fmnist):
    ckpt = tmp_path / "my_vae.pt"
    _, text, images = run_notebook("02_train_vae", tmp_path, EPOCHS=2, TRAIN_SUBSET=600, LATENT_DIM=8,
                                   CHECKPOINT_OUT=str(ckpt), SEED=1)
    from helpers.model import ImageVAE, load_checkpoint
    from helpers.train import choose_precision, elbo_terms

    model = load_checkpoint(ckpt)
    assert isinstance(model, ImageVAE) and model.image_shape == (1, 28, 28)
    assert model.latent_dim == 8 and len(model.history["train_loss"]) == 2
    assert model.config["train_size"] == 600 and model.config["seed"] == 1 and model.config["epochs"] == 2
    assert (model.config["schedule"], model.config["sigma_lr_factor"]) == ("one-cycle", 10.0)
    assert model.config["precision"] == choose_precision("auto", torch.device("cpu"))[0]
    h = model.history
    assert all(math.isfinite(v) for k in ("train_loss", "test_loss", "test_kl") for v in h[k])
    assert h["test_loss"][1] < h["test_loss"][0] and h["test_kl"][-1] > 0          # it learned
    for split in ("train", "test"):
        for loss, recon, kl in zip(h[f"{split}_loss"], h[f"{split}_recon"], h[f"{split}_kl"]):
            assert loss == pytest.approx(recon + kl, abs=1e-3)                       # beta = 1
    # the package's evaluation of the saved model repeats the notebook's last test figure
    test = fmnist[1]
    assert elbo_terms(model, test.scaled(), test.labels)["loss"] == pytest.approx(h["test_loss"][-1], abs=0.05)
    assert model.sampler.components == 10 and model.sampler.latent_dim == 8
    assert model.sample(3).shape == (3, 1, 28, 28)
    assert images >= 2  # the loss curves and the reconstructions
    assert "Traceback" not in text


def test_02_stops_on_a_bad_parameter_before_any_work(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_notebook("02_train_vae", tmp_path, LATENT_DIM=0)
    assert "LATENT_DIM=0 is not allowed: LATENT_DIM must be a whole number between 1 and 512" in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_same_parameters_same_numbers(tmp_path):
    """Two papermill runs of 02 with the same parameters train to the same weights and figures."""
    from helpers.checkpoint import read_checkpoint

    params = dict(EPOCHS=1, TRAIN_SUBSET=300, LATENT_DIM=4, SEED=7)
    run_notebook("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "a.pt"), **params)
    run_notebook("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "b.pt"), **params)
    a, b = read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt")
    for key in ("train_loss", "train_kl", "test_loss", "test_recon", "test_kl"):
        assert a["history"][key] == b["history"][key], key
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
