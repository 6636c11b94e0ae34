"""Papermill runs of notebook 02 with tiny parameters: it trains, prints figures that agree with
each other, saves a checkpoint that 03-05 can load, and stops on a bad parameter."""

import math
import re

import papermill as pm
import pytest

from conftest import number, run_notebook


def test_02_trains_prints_consistent_figures_and_saves(tmp_path):
    ckpt = tmp_path / "my_vae.pt"
    _, text, images = run_notebook("02_train_vae", tmp_path, EPOCHS=2, TRAIN_SUBSET=600, LATENT_DIM=8,
                                   CHECKPOINT_OUT=str(ckpt), SEED=1)
    from helpers.model import load_checkpoint

    model = load_checkpoint(ckpt)
    assert model.latent_dim == 8 and len(model.history["train_loss"]) == 2
    assert model.config["train_size"] == 600 and model.config["seed"] == 1
    assert "879,074" not in text and "latent_dim = 8" in text
    # one line per epoch, and the summary lines are computed from the same history
    epochs = re.findall(r"^epoch +(\d+): train loss +(-?[\d.]+) .*test +(-?[\d.]+)", text, re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    train2, test2 = float(epochs[1][1]), float(epochs[1][2])
    assert number(r"test minus train: ([+-][\d.]+) nats", text) == pytest.approx(test2 - train2, abs=0.06)
    # the ELBO is split into its parts, and the Gaussian constant is 784 (log sigma + log(2 pi) / 2)
    loss, recon, kl = (number(p, text) for p in (r"test negative ELBO: (-?[\d.]+)", r"= reconstruction (-?[\d.]+)",
                                                  r"\+ KL (-?[\d.]+)"))
    assert loss == pytest.approx(recon + kl, abs=0.02) and kl > 0
    assert loss == pytest.approx(test2, abs=0.02)  # the last epoch's test figure is the same measurement
    sigma = number(r"learned pixel noise sigma = ([\d.]+)", text)
    assert sigma == pytest.approx(model.sigma(), abs=5e-4)
    const = number(r"constant 784 \* \(log sigma \+ log\(2 pi\) / 2\) = (-?[\d.]+)", text)
    assert const == pytest.approx(784 * (math.log(model.sigma()) + 0.5 * math.log(2 * math.pi)), abs=0.1)
    assert number(r"squared-error part .* = (-?[\d.]+) nats", text) == pytest.approx(recon - const, abs=0.1)
    # the reparameterization demo: gradients reach mu and logvar, near their exact values
    grad_logvar = re.search(r"d mean\(z\^2\) / d logvar = \[ *([\d.]+) +([\d.]+)\]", text)
    assert float(grad_logvar.group(1)) == pytest.approx(1.0, abs=0.05)
    assert float(grad_logvar.group(2)) == pytest.approx(math.exp(-2), abs=0.01)
    assert "reloaded model decodes identically: True" in text
    assert model.sampler.components == 10 and model.sampler.latent_dim == 8
    # the recipe: the one-cycle schedule and log sigma's own rate by default, the precision said
    assert (model.config["schedule"], model.config["sigma_lr_factor"]) == ("one-cycle", 10.0)
    said = re.search(r"^precision: (fp32|bf16) \((.+)\)$", text, re.M)
    assert said and said.group(1) == model.config["precision"]
    assert images >= 3  # the schedule, the loss curves and the reconstructions


def test_02_stops_on_a_bad_parameter_before_any_work(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_notebook("02_train_vae", tmp_path, LATENT_DIM=0)
    assert "LATENT_DIM=0 is not allowed: LATENT_DIM must be a whole number between 1 and 512" in str(err.value)


def test_same_parameters_same_printed_numbers(tmp_path):
    """Two papermill runs of 02 with the same parameters print the same losses and figures."""
    params = dict(EPOCHS=1, TRAIN_SUBSET=300, LATENT_DIM=4, SEED=7)
    _, a, _ = run_notebook("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "a.pt"), **params)
    _, b, _ = run_notebook("02_train_vae", tmp_path, CHECKPOINT_OUT=str(tmp_path / "b.pt"), **params)

    def numbers(text):
        keep = [line for line in text.splitlines()
                if re.match(r"(epoch +1:|test negative ELBO|learned pixel|  constant|  squared|  reconstruction|  KL)", line)]
        return [re.sub(r", +[\d.]+ s$", "", line) for line in keep]  # wall-clock time differs

    assert len(numbers(a)) == 7 and numbers(a) == numbers(b)
