"""Every precision the notebooks pick by themselves trains like float32, at the real scale.

``PRECISION = "auto"`` picks bfloat16 autocast on a CPU with native bfloat16 (AVX-512 BF16 / AMX)
and on an Ampere-or-newer GPU. Here it is forced on whatever CPU runs the tests (emulated, slower,
where the CPU lacks it: the same arithmetic), with notebook 02's default model, batch size and
recipe, beside a float32 twin on the same images in the same order. An autocast context held
open across optimizer steps (reusing its bfloat16 copies of the weights from the first step)
froze every weight but log sigma and ended in NaN; this test failed on that code within its
first steps. The full default run in both precisions is ``benchmarks/train_speed.py``.
"""

import math
import sys

import pytest
import torch

from conftest import ROOT, tiny_model
from helpers.model import ConvVAE, model_loss, vae_loss
from helpers.image_vae import Labelled
from helpers.train import set_seed, train_vae

sys.path.insert(0, str(ROOT / "benchmarks"))
from train_speed import notebook_defaults  # noqa: E402

#: optimizer steps of the twins, one-cycle over these steps (warm-up to the peak rate 3e-3 in the first
#: 30 %). The old code failed at any length (KL stuck at 0.043 from the first step on); 64 steps are
#: enough for the twins' figures to be compared within the bounds below on three seeds, and take
#: about 1.5 minutes where bfloat16 is emulated (2-core AVX2), 10 s where it is native.
STEPS = 64


def _twin(precision, train, test, p):
    set_seed(p["SEED"])
    model = ConvVAE(latent_dim=p["LATENT_DIM"])  # the lesson's model and loss: what 02 trains
    hist = train_vae(model, train.scaled(), train.labels, test.scaled(), test.labels, epochs=1,
                     batch_size=p["BATCH_SIZE"], lr=p["LEARNING_RATE"], schedule=p["LR_SCHEDULE"],
                     sigma_lr_factor=p["SIGMA_LR_FACTOR"], beta=p["BETA"], seed=p["SEED"],
                     precision=precision, device="cpu", progress=False, loss=vae_loss)
    assert model.config["precision"] == precision
    assert all(w.dtype == torch.float32 for w in model.parameters())  # the weights stay float32
    return {**{k: v[-1] for k, v in hist.items()}, "sigma": float(model.log_sigma.detach().exp())}


def test_bfloat16_trains_like_float32_with_the_default_model_batch_and_recipe(fmnist):
    p = notebook_defaults()
    assert (p["BATCH_SIZE"], p["LATENT_DIM"], p["LR_SCHEDULE"]) == (256, 16, "one-cycle")
    train = fmnist[0].subset(STEPS * p["BATCH_SIZE"], seed=0)
    test = fmnist[1].subset(1000, seed=0)
    fp32, bf16 = (_twin(precision, train, test, p) for precision in ("fp32", "bf16"))
    print("fp32", fp32, "\nbf16", bf16)
    assert all(math.isfinite(v) for v in [*fp32.values(), *bf16.values()])
    assert fp32["train_loss"] < 900 and fp32["train_kl"] > 5      # the float32 twin did learn
    assert bf16["train_loss"] != fp32["train_loss"]               # bfloat16 arithmetic did happen
    # the run's training loss (the mean over its steps, as notebook 02 prints it) within 5 nats per
    # image, its KL and the learned sigma within 10 % (at this point the float32 twins of seeds 0, 1
    # and 2 alone differ by 42 nats, 14 % and 6 %: bfloat16 stays far closer than another seed)
    assert bf16["train_loss"] == pytest.approx(fp32["train_loss"], abs=5.0)
    assert bf16["train_kl"] == pytest.approx(fp32["train_kl"], rel=0.10)
    assert bf16["sigma"] == pytest.approx(fp32["sigma"], rel=0.10)
    # the test figures of the final weights, a snapshot in mid-descent: within 3 % and 15 %
    assert bf16["test_loss"] == pytest.approx(fp32["test_loss"], rel=0.03)
    assert bf16["test_kl"] == pytest.approx(fp32["test_kl"], rel=0.15)


def test_under_autocast_the_network_runs_in_bfloat16_and_the_loss_in_float32(fmnist):
    x = fmnist[1].scaled()[:8]
    model, cvae = tiny_model(), tiny_model(conditional=True)
    y = torch.arange(8) % 10
    with torch.autocast("cpu", torch.bfloat16):
        raw, mu, logvar = model.decode_raw(model.encode(x)[0]), *model.encode(x)
        terms = vae_loss(model, x)
        cvae_terms = model_loss(cvae, Labelled(x, y))
        prior_mean = cvae.prior_mean(8, y)
    assert raw.dtype == mu.dtype == logvar.dtype == torch.bfloat16      # the network: bfloat16
    assert all(v.dtype == torch.float32 for v in [*terms.values(), *cvae_terms.values(), prior_mean])
    assert torch.isfinite(terms["loss"]) and torch.isfinite(cvae_terms["loss"])
