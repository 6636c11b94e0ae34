"""Papermill runs of notebook 02 with tiny parameters: it trains through its own loop, saves a
checkpoint whose figures hold together and that 03-05 can load, repeats itself exactly, and stops
on a bad parameter. Checked through the saved files and the package, not the printed wording."""

import math

import papermill as pm
import pytest
import torch

from conftest import run_notebook


PARAMS = dict(EPOCHS=2, TRAIN_SUBSET=600, LATENT_DIM=8, SEED=1)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One papermill run of 02 with tiny parameters: (its checkpoint, printed text, figure count)."""
    folder = tmp_path_factory.mktemp("run02")
    ckpt = folder / "my_vae.pt"
    with pytest.MonkeyPatch.context() as mp:  # as isolated_runs does for each test
        mp.setenv("VAE_LAB_RUNS_DIR", str(folder / "runs"))
        mp.delenv("VAE_LAB_SMOKE", raising=False)
        _, text, images = run_notebook("02_train_vae", folder, CHECKPOINT_OUT=str(ckpt), **PARAMS)
    return ckpt, text, images


def test_02_trains_saves_a_consistent_checkpoint_with_a_sampler(default_run, fmnist):
    ckpt, text, images = default_run
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


def test_same_parameters_same_numbers(tmp_path, default_run):
    """A second papermill run of 02 with the same parameters trains to the same weights and figures."""
    from helpers.checkpoint import read_checkpoint

    run_notebook("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "b.pt"), **PARAMS)
    a, b = read_checkpoint(default_run[0]), read_checkpoint(tmp_path / "b.pt")
    for key in ("train_loss", "train_kl", "test_loss", "test_recon", "test_kl"):
        assert a["history"][key] == b["history"][key], key
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
