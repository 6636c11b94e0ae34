"""Measure checkpoints the way the README's results table reports them.

    .venv/bin/python tools/evaluate_checkpoint.py [checkpoints/vae.pt checkpoints/cvae.pt ...]

For each: test negative ELBO with its reconstruction and KL parts (nats per image, one posterior
sample per image, seed 0), an importance-weighted log p(x) with K = 100 samples of q(z|x) on all
10,000 test images (in the model's own likelihood), active units, latent kNN (k=5) and linear-probe
accuracy with all 60,000 training codes as reference (a conditional encoder is given the true
class), silhouette, reconstruction MSE, the judge classifier's accuracy on the reconstructions,
and from 10,000 samples the Frechet distance of judge features to the test images' (and, for a
conditional model, the share of samples judged to be the asked class), for ``model.sample`` (the
fitted mixture when the checkpoint has one) and for plain prior draws. One column per checkpoint,
plus the kNN vote on raw pixels as a baseline, the judge's accuracy on real test images (what a
sampler that matched the data exactly would score on "judged the asked class"), and per asked
class the share judged right.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.classifier import load_classifier
from helpers.config import CHECKPOINT_DIR
from helpers.data import CLASS_NAMES, load_fashion_mnist
from helpers.evaluation import evaluate_model
from helpers.metrics import knn_predict
from helpers.model import count_parameters, load_checkpoint

ROWS = [
    ("test negative ELBO (nats/image)", lambda m: f"{m['test_neg_elbo']:.1f}"),
    ("  reconstruction part", lambda m: f"{m['test_recon']:.1f}"),
    ("  KL part", lambda m: f"{m['test_kl']:.1f}"),
    ("log p(x), importance-weighted, K=100 (nats/image)", lambda m: f"{m['iw_log_likelihood']:.1f}"),
    ("active units (Var of mu > 0.01)", lambda m: f"{m['active_units']}"),
    ("latent kNN accuracy (k=5, train -> test)", lambda m: f"{m['knn_accuracy']:.4f}"),
    ("linear-probe accuracy", lambda m: f"{m['linear_probe_accuracy']:.4f}"),
    ("silhouette of test codes by class", lambda m: f"{m['silhouette']:.3f}"),
    ("reconstruction MSE per pixel ([0, 1] scale)", lambda m: f"{m['recon_mse']:.4f}"),
    ("judge classifier on reconstructions (class kept)", lambda m: f"{m['class_kept']:.4f}"),
    ("Frechet distance, 10,000 samples vs test (judge features)", lambda m: f"{m['frechet_distance']:.1f}"),
    ("  the same for prior draws", lambda m: f"{m.get('frechet_distance_prior', m['frechet_distance']):.1f}"),
    ("samples judged to be the asked class", lambda m: f"{m['class_match']:.4f}" if "class_match" in m else "n/a"),
    ("  the same for prior draws",
     lambda m: f"{m.get('class_match_prior', m['class_match']):.4f}" if "class_match" in m else "n/a"),
]


def main(paths: list[Path]) -> None:
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    tx, ty, sx, sy = train.scaled(), train.labels, test.scaled(), test.labels
    judge = load_classifier()
    models = [load_checkpoint(p) for p in paths]
    results = [evaluate_model(m, tx, ty, sx, sy, judge, iw_k=100, n_samples=10000, by_class=True) for m in models]
    pixel_knn = float((knn_predict(tx.flatten(1), ty, sx.flatten(1), k=5) == sy).float().mean())
    print("| figure | " + " | ".join(p.name for p in paths) + " |")
    print("|---|" + "---|" * len(paths))
    print("| size, parameters | " + " | ".join(
        f"{p.stat().st_size / 1e6:.1f} MB, {count_parameters(m):,}" for p, m in zip(paths, models)) + " |")
    print("| training time recorded | " + " | ".join(
        f"{sum(m.history.get('epoch_seconds', [])) / 60:.1f} min, {len(m.history.get('train_loss', []))} epochs"
        for m in models) + " |")
    for name, fmt in ROWS:
        print(f"| {name} | " + " | ".join(fmt(r) for r in results) + " |")
    print(f"| baseline: kNN on raw pixels (784-D, k=5) | {pixel_knn:.4f} |" + " |" * (len(paths) - 1))
    print(f"| judge classifier on the real test images | {judge.test_accuracy:.4f} |" + " |" * (len(paths) - 1))
    real = judge.predict(sx) == sy
    print("\nper class: " + ", ".join(CLASS_NAMES))
    print("judge on real test images: " + " ".join(f"{float(real[sy == c].float().mean()):.2f}" for c in range(10)))
    for p, r in zip(paths, results):
        for key, source in (("class_match_by_class", "model.sample"), ("class_match_by_class_prior", "prior")):
            if key in r:
                print(f"{p.name} samples judged the asked class ({source}): "
                      + " ".join(f"{v:.2f}" for v in r[key]))


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or [CHECKPOINT_DIR / "vae.pt", CHECKPOINT_DIR / "cvae.pt"]
    main(args)
