"""How long notebook 02's default training takes in each precision, beside the classic MLP VAE.

    .venv/bin/python benchmarks/train_speed.py [--threads N] [--quick] [--precisions fp32,bf16]

1. **The default run, once per precision** (float32 and bfloat16 autocast by default): notebook
   02's default parameters (read from the notebook's parameters cell, so the two cannot drift)
   through the same calls the notebook makes (``set_seed``, the ``ImageVAE``,
   ``helpers.train.train_vae`` with the lesson's ``train_epoch``), on all 60,000 training images
   with the test loss after every epoch, to the end, with PRECISION forced. For each: the wall
   clock of training, seconds per epoch, images per second, and the quality of the trained model
   on the project's own measures: test negative ELBO, the learned sigma, latent kNN accuracy
   (k = 5, 60,000 training codes), the judge classifier's accuracy on the reconstructions (class
   kept), and the Frechet distance of 10,000 ``model.sample`` images (the fitted mixture, as
   notebook 02 saves it) to the test images. It also says which precision ``"auto"`` picks here.
   Where the CPU has no native bfloat16 the bfloat16 run is emulated: correct, but much slower
   than float32 (about 5.5 minutes per epoch on 2 cores held to AVX2): ``--precisions fp32``.
2. **The baseline**: one epoch (60,000 images, batch 128, Adam 1e-3) of the classic MLP VAE of
   the PyTorch examples and Kingma & Welling (784-400-20, Bernoulli decoder).

``--quick`` trains 2,000 images for one epoch instead (a smoke check of this script, not a
measurement). The table comes first; the **last line** is one JSON object with every figure.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

from helpers.classifier import load_classifier
from helpers.config import check_parameters
from helpers.data import load_fashion_mnist
from helpers.evaluation import judge_accuracies, sample_quality
from helpers.latent import encode_dataset
from helpers.metrics import class_separation
from helpers.model import ImageVAE, count_parameters, fit_latent_mixture, kl_divergence
from helpers.train import choose_device, choose_precision, set_seed, train_vae

NOTEBOOK_02 = Path(__file__).resolve().parent.parent / "notebooks" / "02_train_vae.ipynb"
#: what notebook 02's training cell builds around its parameters: a one-cycle schedule, log sigma at
#: 10 times the weights' rate, the Gaussian decoder
LESSON_RECIPE = {"LR_SCHEDULE": "one-cycle", "SIGMA_LR_FACTOR": 10.0, "LIKELIHOOD": "gaussian"}


def notebook_defaults(path: Path = NOTEBOOK_02) -> dict:
    """The literal defaults of a notebook's ``parameters`` cell (non-smoke branch of ``a if SMOKE else b``)."""
    cell = next(c for c in json.loads(path.read_text())["cells"]
                if "parameters" in c.get("metadata", {}).get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            value = node.value.orelse if isinstance(node.value, ast.IfExp) else node.value
            try:
                values[node.targets[0].id] = ast.literal_eval(value)
            except ValueError:
                pass  # computed values
    if path == NOTEBOOK_02:  # the recipe 02 writes out in its training cell, not as parameters
        values = {**LESSON_RECIPE, **values}
    return values


class MLPVAE(nn.Module):
    """The classic recipe (PyTorch examples / Kingma & Welling): 784-400-20, Bernoulli decoder."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def loss(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.fc4(torch.relu(self.fc3(z)))
        recon = nn.functional.binary_cross_entropy_with_logits(
            logits, (x.flatten(1) + 1) / 2, reduction="none").sum(1)
        return (recon + kl_divergence(mu, logvar)).mean()


def mlp_epoch_seconds(x: torch.Tensor, batch_size: int = 128) -> float:
    """One epoch of the MLP VAE over x in shuffled batches, Adam 1e-3: wall seconds."""
    model = MLPVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for idx in torch.randperm(len(x)).split(batch_size):
        loss = model.loss(x[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def default_run(p: dict, precision: str, data: tuple, device: torch.device) -> dict:
    """Notebook 02's default run with PRECISION forced: training time and the trained model's quality."""
    tx, ty, sx, sy = data
    set_seed(p["SEED"])  # as notebook 02: seed, build, train with the lesson's train_epoch
    model = ImageVAE(latent_dim=p["LATENT_DIM"], likelihood=p["LIKELIHOOD"])
    start = time.perf_counter()
    history = train_vae(model, tx, ty, sx, sy, epochs=p["EPOCHS"], batch_size=p["BATCH_SIZE"],
                        lr=p["LEARNING_RATE"], schedule=p["LR_SCHEDULE"], sigma_lr_factor=p["SIGMA_LR_FACTOR"],
                        precision=precision, beta=p["BETA"], seed=p["SEED"], device=device, progress=False)
    train_s = time.perf_counter() - start
    model = model.cpu().eval()
    train_codes = encode_dataset(model, tx, ty)
    model.sampler = fit_latent_mixture(train_codes, conditional=False, seed=p["SEED"])
    judge = load_classifier()
    return {
        "train_s": round(train_s, 1),
        "epoch_s": round(sum(history["epoch_seconds"]) / len(history["epoch_seconds"]), 2),
        "images_per_s": round(p["EPOCHS"] * len(tx) / sum(history["epoch_seconds"]), 1),
        "test_neg_elbo": round(history["test_loss"][-1], 2), "test_kl": round(history["test_kl"][-1], 2),
        "sigma": round(model.sigma(), 4),
        "knn_accuracy": round(class_separation(train_codes, encode_dataset(model, sx, sy), seed=p["SEED"]).knn_accuracy, 4),
        "class_kept": round(judge_accuracies(judge, model, sx, sy)["reconstructions"], 4),
        "frechet_distance": round(sample_quality(model, judge, sx, n=10000, seed=p["SEED"])["frechet_distance"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch: checks the script runs")
    ap.add_argument("--precisions", default="fp32,bf16", help="comma-separated, from fp32 and bf16 (default: both)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    precisions = args.precisions.split(",")
    for precision in precisions:
        check_parameters(PRECISION=precision)  # a clear error before any work
    p = notebook_defaults()
    if args.quick:
        p.update(EPOCHS=1, TRAIN_SUBSET=2000)
    train = load_fashion_mnist("train").subset(p["TRAIN_SUBSET"], seed=p["SEED"])
    test = load_fashion_mnist("test")
    data = (train.scaled(), train.labels, test.scaled(), test.labels)
    device = choose_device(p["DEVICE"])
    auto, why = choose_precision(p["PRECISION"], device)
    runs = {precision: default_run(p, precision, data, device) for precision in precisions}
    mlp_s = mlp_epoch_seconds(data[0])
    figures = {
        "runs": runs, "auto_picks": auto, "auto_reason": why, "default_epochs": p["EPOCHS"],
        "mlp_epoch_s": round(mlp_s, 2), "mlp_epoch_images": len(data[0]),
        "torch_threads": torch.get_num_threads(), "device": str(device),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu": cpu_model(),
        "batch_size": p["BATCH_SIZE"], "lr_schedule": p["LR_SCHEDULE"], "peak_lr": p["LEARNING_RATE"],
        "train_images": len(data[0]), "quick": args.quick,
    }
    print(f"machine: {figures['cpu']} ({figures['cpu_capability']}), torch {torch.__version__}, "
          f"{figures['torch_threads']} threads, device {device}; PRECISION='auto' picks {auto}: {why}")
    print(f"notebook 02 default: {p['EPOCHS']} epochs, batch {p['BATCH_SIZE']}, {p['LR_SCHEDULE']} to "
          f"{p['LEARNING_RATE']:g}, sigma rate x{p['SIGMA_LR_FACTOR']:g}, {len(data[0]):,} training images")
    print(f"{'precision':9s} {'train s':>8s} {'s/epoch':>8s} {'img/s':>7s} {'test -ELBO':>10s} {'sigma':>6s} "
          f"{'kNN':>6s} {'kept':>6s} {'FD':>6s}")
    for precision, r in runs.items():
        print(f"{precision:9s} {r['train_s']:8.1f} {r['epoch_s']:8.2f} {r['images_per_s']:7.0f} {r['test_neg_elbo']:10.2f} "
              f"{r['sigma']:6.3f} {r['knn_accuracy']:6.3f} {r['class_kept']:6.3f} {r['frechet_distance']:6.1f}")
    print(f"baseline: classic MLP VAE 784-400-20 ({count_parameters(MLPVAE()):,} params), one epoch: {mlp_s:.1f} s, "
          f"{len(data[0]) / mlp_s:.0f} img/s")
    print(json.dumps(figures))


def cpu_model() -> str:
    """The CPU's model name as Linux reports it (platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
