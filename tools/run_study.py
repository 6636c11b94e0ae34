"""The latent-size / beta / conditional study: train a grid of VAEs with the project's own code,
measure each with helpers.evaluation.evaluate_model, write a CSV and plots.

    .venv/bin/python tools/run_study.py                 # the full grid: 36 runs, about 25 min on 2 CPU cores
    .venv/bin/python tools/run_study.py --grid tiny     # 4 tiny runs (CI)

Full grid: latent size {2, 4, 8, 16, 32, 64} x beta {0.5, 1, 4} x conditional {off, on}. Budget per
run (fits a 2-core CPU): 5 epochs on a fixed random 20,000 training images, batch 128, seed 0.
Measured on the test set: negative ELBO (recon + KL), an importance-weighted log p(x) with K = 50
samples on the first 1,000 test images, active units, kNN (k = 5) and linear-probe accuracy with
the 20,000 training codes as reference, silhouette, reconstruction MSE, class kept, and from
5,000 samples the Frechet distance of judge-classifier features (and class match, conditional),
both for ``model.sample`` with the mixture sampler fitted to the run's training codes (as notebook
02 does) and for plain prior draws (columns ending in ``_prior``).
Each finished run is appended to the CSV at once, so an interrupted study resumes where it
stopped (runs already in the CSV are skipped).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

from helpers.classifier import load_classifier
from helpers.config import PROJECT_ROOT
from helpers.data import load_fashion_mnist
from helpers.latent import encode_dataset
from helpers.evaluation import evaluate_model
from helpers.model import ConditionalVAE, ImageVAE, fit_latent_mixture
from helpers.train import set_seed, train_vae

GRIDS = {
    "full": dict(latent=[2, 4, 8, 16, 32, 64], beta=[0.5, 1.0, 4.0], conditional=[False, True],
                 train_subset=20000, test_subset=None, epochs=5, iw_k=50, iw_items=1000, n_samples=5000),
    "tiny": dict(latent=[2, 4], beta=[1.0], conditional=[False, True],
                 train_subset=500, test_subset=1000, epochs=1, iw_k=4, iw_items=50, n_samples=200),
}
KEYS = ["latent_dim", "beta", "conditional", "epochs", "train_size", "train_seconds"]
METRICS = ["test_neg_elbo", "test_recon", "test_kl", "iw_log_likelihood", "iw_k", "iw_items", "active_units",
           "knn_accuracy", "linear_probe_accuracy", "silhouette", "recon_mse", "class_kept",
           "frechet_distance", "frechet_distance_prior", "class_match", "class_match_prior"]


def done_runs(csv_path: Path) -> set:
    if not csv_path.exists():
        return set()
    with open(csv_path) as fh:
        return {(int(r["latent_dim"]), float(r["beta"]), r["conditional"] == "True") for r in csv.DictReader(fh)}


def run_grid(grid: str, out: Path, seed: int = 0) -> Path:
    g = GRIDS[grid]
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "study.csv"
    done = done_runs(csv_path)
    train = load_fashion_mnist("train").subset(g["train_subset"], seed=seed)
    test = load_fashion_mnist("test").subset(g["test_subset"], seed=seed)
    tx, ty, sx, sy = train.scaled(), train.labels, test.scaled(), test.labels
    judge = load_classifier()
    configs = list(itertools.product(g["latent"], g["beta"], g["conditional"]))
    for i, (latent, beta, cond) in enumerate(configs, 1):
        if (latent, beta, cond) in done:
            continue
        set_seed(seed)
        model = (ConditionalVAE if cond else ImageVAE)(latent_dim=latent)
        t0 = time.perf_counter()
        train_vae(model, tx, ty, epochs=g["epochs"], beta=beta, seed=seed, device="cpu", progress=False)
        seconds = time.perf_counter() - t0
        model.sampler = fit_latent_mixture(encode_dataset(model, tx, ty), model.conditional, seed=seed)
        m = evaluate_model(model, tx, ty, sx, sy, judge, iw_k=g["iw_k"], iw_items=g["iw_items"],
                           n_samples=g["n_samples"], seed=seed)
        row = {"latent_dim": latent, "beta": beta, "conditional": cond, "epochs": g["epochs"],
               "train_size": len(tx), "train_seconds": round(seconds, 1),
               **{k: (round(m[k], 4) if isinstance(m.get(k), float) else m.get(k, "")) for k in METRICS}}
        new = not csv_path.exists()
        with open(csv_path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=KEYS + METRICS)
            if new:
                w.writeheader()
            w.writerow(row)
        print(f"[{i}/{len(configs)}] latent {latent:2d} beta {beta:3.1f} conditional {cond!s:5s}: "
              f"-ELBO {m['test_neg_elbo']:8.1f}  log p(x) {m['iw_log_likelihood']:8.1f}  kNN {m['knn_accuracy']:.3f}  "
              f"FD {m['frechet_distance']:7.2f}  ({seconds:.0f} s training)", flush=True)
    plot(csv_path, out / "study.png")
    return csv_path


def plot(csv_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as fh:
        rows = list(csv.DictReader(fh))
    panels = [("iw_log_likelihood", "log p(x), IW estimate (nats, higher is better)"),
              ("test_kl", "KL term (nats)"), ("active_units", "active latent units"),
              ("knn_accuracy", "latent kNN accuracy (k=5)"), ("recon_mse", "reconstruction MSE (pixel scale)"),
              ("frechet_distance", "Frechet distance, mixture samples (lower is better)")]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    betas = sorted({float(r["beta"]) for r in rows})
    colors = dict(zip(betas, ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
    for ax, (key, title) in zip(axes.flat, panels):
        for beta, cond in itertools.product(betas, ("False", "True")):
            sel = sorted((int(r["latent_dim"]), float(r[key])) for r in rows
                         if float(r["beta"]) == beta and r["conditional"] == cond and r[key] != "")
            if sel:
                xs, ys = zip(*sel)
                ax.plot(xs, ys, "o-" if cond == "False" else "s--", color=colors[beta],
                        label=f"beta={beta:g}" + (", conditional" if cond == "True" else ""))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latent size")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Latent size x beta x conditional ({rows[0]['epochs']} epochs on {rows[0]['train_size']} images each)")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", choices=sorted(GRIDS), default="full")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "results")
    args = ap.parse_args()
    print(f"wrote {run_grid(args.grid, args.out)} and {args.out / 'study.png'}")
