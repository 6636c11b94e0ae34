"""How long notebook 02's default training takes, beside the classic MLP VAE (784-400-20).

    .venv/bin/python benchmarks/train_speed.py [--threads N] [--quick]

1. **The default run**: notebook 02's default parameters (read from the notebook's parameters
   cell, so the two cannot drift) through the same calls the notebook makes (``set_seed``, the
   ``ConvVAE``, ``helpers.train.train_vae`` with the lesson's ``train_epoch``), on all 60,000
   training images with the test loss after every epoch, to the end. It reports the wall clock of
   training, images per second, the precision picked, and the quality of the trained model on
   the project's own measures: latent kNN accuracy (k = 5, 60,000 training codes), the judge
   classifier's accuracy on the reconstructions (class kept), and the Fréchet distance of 10,000
   ``model.sample`` images (the fitted mixture, as notebook 02 saves it) to the test images.
2. **Throughput in float32**: the same model and batch size in float32 for 60 batches after a
   warm-up (the baseline for the precision picked).
3. **The baseline**: one epoch (60,000 images, batch 128, Adam 1e-3) of the classic MLP VAE of
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
from helpers.data import load_fashion_mnist
from helpers.evaluation import judge_accuracies, sample_quality
from helpers.latent import encode_dataset
from helpers.metrics import class_separation
from helpers.model import ConvVAE, count_parameters, fit_latent_mixture, kl_divergence, vae_loss
from helpers.train import choose_device, choose_precision, make_optimizer, set_seed, train_vae

NOTEBOOK_02 = Path(__file__).resolve().parent.parent / "notebooks" / "02_train_vae.ipynb"


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
                pass  # computed values (SMOKE = smoke_mode())
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


def fp32_images_per_second(x: torch.Tensor, p: dict, batches: int = 60) -> float:
    """Training throughput of the default ConvVAE in float32 (the optimizer train_vae builds)."""
    model = ConvVAE(latent_dim=p["LATENT_DIM"], likelihood=p["LIKELIHOOD"])
    opt = make_optimizer(model, p["LEARNING_RATE"], p["SIGMA_LR_FACTOR"])
    batch = p["BATCH_SIZE"]
    step = lambda xb: (opt.zero_grad(set_to_none=True), vae_loss(model, xb)["loss"].backward(), opt.step())
    for i in range(5):  # warm-up
        step(x[i * batch:(i + 1) * batch])
    start = time.perf_counter()
    for i in range(batches):
        step(x[(i * batch) % (len(x) - batch):][:batch])
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch: checks the script runs")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    p = notebook_defaults()
    if args.quick:
        p.update(EPOCHS=1, TRAIN_SUBSET=2000)
    train = load_fashion_mnist("train").subset(p["TRAIN_SUBSET"], seed=p["SEED"])
    test = load_fashion_mnist("test")
    tx, ty, sx, sy = train.scaled(), train.labels, test.scaled(), test.labels
    device = choose_device(p["DEVICE"])
    precision, why = choose_precision(p["PRECISION"], device)

    set_seed(p["SEED"])  # as notebook 02: seed, build, train with the lesson's train_epoch
    model = ConvVAE(latent_dim=p["LATENT_DIM"], likelihood=p["LIKELIHOOD"])
    start = time.perf_counter()
    history = train_vae(model, tx, ty, sx, sy, epochs=p["EPOCHS"], batch_size=p["BATCH_SIZE"],
                        lr=p["LEARNING_RATE"], schedule=p["LR_SCHEDULE"], sigma_lr_factor=p["SIGMA_LR_FACTOR"],
                        precision=p["PRECISION"], beta=p["BETA"], seed=p["SEED"], device=device, progress=False)
    train_s = time.perf_counter() - start
    model = model.cpu().eval()
    train_codes = encode_dataset(model, tx, ty)
    model.sampler = fit_latent_mixture(train_codes, conditional=False, seed=p["SEED"])
    judge = load_classifier()
    quality = {
        "test_neg_elbo": history["test_loss"][-1],
        "knn_accuracy": class_separation(train_codes, encode_dataset(model, sx, sy), seed=p["SEED"]).knn_accuracy,
        "class_kept": judge_accuracies(judge, model, sx, sy)["reconstructions"],
        "frechet_distance": sample_quality(model, judge, sx, n=10000, seed=p["SEED"])["frechet_distance"],
    }
    fp32_rate = fp32_images_per_second(tx, p)
    mlp_s = mlp_epoch_seconds(tx)
    figures = {
        "default_train_s": round(train_s, 1), "default_epochs": p["EPOCHS"],
        "images_per_s": round(p["EPOCHS"] * len(tx) / sum(history["epoch_seconds"]), 1),
        "images_per_s_fp32": round(fp32_rate, 1), "mlp_epoch_s": round(mlp_s, 2), "mlp_epoch_images": len(tx),
        "precision": precision, "precision_reason": why, "torch_threads": torch.get_num_threads(),
        "device": str(device), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "batch_size": p["BATCH_SIZE"], "lr_schedule": p["LR_SCHEDULE"], "peak_lr": p["LEARNING_RATE"],
        "train_images": len(tx), "quick": args.quick, **{k: round(v, 4) for k, v in quality.items()},
    }
    print(f"machine: {platform.processor() or platform.machine()} ({figures['cpu_capability']}), torch "
          f"{torch.__version__}, {figures['torch_threads']} threads, device {device}; precision {precision}: {why}")
    print(f"notebook 02 default: {p['EPOCHS']} epochs, batch {p['BATCH_SIZE']}, {p['LR_SCHEDULE']} to "
          f"{p['LEARNING_RATE']:g}, sigma rate x{p['SIGMA_LR_FACTOR']:g}, {len(tx):,} training images")
    rows = [("default ConvVAE training, to the end (incl. test loss per epoch)", f"{train_s:.1f} s",
             f"{figures['images_per_s']:.0f} img/s ({precision})"),
            ("  the same model in float32 (60 batches)", "", f"{fp32_rate:.0f} img/s"),
            ("baseline: classic MLP VAE 784-400-20, one epoch", f"{mlp_s:.1f} s",
             f"{len(tx) / mlp_s:.0f} img/s ({count_parameters(MLPVAE()):,} params)")]
    for name, t, rate in rows:
        print(f"{name:66s} {t:>9s}  {rate}")
    print(f"trained model: test -ELBO {quality['test_neg_elbo']:.2f}, latent kNN {quality['knn_accuracy']:.4f} "
          f"(aim >= 0.86), class kept {quality['class_kept']:.4f} (aim >= 0.81), Frechet distance "
          f"{quality['frechet_distance']:.1f} (aim <= 30)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
