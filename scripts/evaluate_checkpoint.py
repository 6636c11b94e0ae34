"""Measure a checkpoint the way the README's results table reports it.

    .venv/bin/python scripts/evaluate_checkpoint.py [checkpoints/vae.pt]

Prints: test negative ELBO with its reconstruction and KL parts (nats per image, one posterior
sample per image, seed 0), active latent units, latent kNN accuracy (k=5, train codes -> test
codes) beside the same vote on raw pixels, silhouette, the judge classifier's accuracy on test images and on their
reconstructions, and the training time recorded in the checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.classifier import load_classifier  # noqa: E402
from helpers.config import CHECKPOINT_DIR  # noqa: E402
from helpers.data import load_fashion_mnist  # noqa: E402
from helpers.latent import encode_dataset  # noqa: E402
from helpers.metrics import class_kept, class_separation, knn_predict  # noqa: E402
from helpers.model import count_parameters, load_checkpoint  # noqa: E402
from helpers.train import evaluate  # noqa: E402


def main(path: Path) -> None:
    model = load_checkpoint(path)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    tx, ty = test.scaled(), test.labels
    y = ty if model.conditional else None
    ev = evaluate(model, tx, y, beta=1.0)
    tr_codes = encode_dataset(model, train.scaled(), train.labels)
    te_codes = encode_dataset(model, tx, ty)
    kl_dim = 0.5 * (te_codes.mu.pow(2) + te_codes.logvar.exp() - 1 - te_codes.logvar).mean(0)
    sep = class_separation(tr_codes, te_codes, k=5)
    pixel_knn = float((knn_predict(train.scaled().flatten(1), train.labels, tx.flatten(1), k=5) == ty)
                      .float().mean())
    judge = load_classifier(CHECKPOINT_DIR / "classifier.pt")
    kept = class_kept(judge, model, tx, ty)
    h = model.history
    rows = [
        ("checkpoint", f"{path.name} ({path.stat().st_size / 1e6:.1f} MB, {count_parameters(model):,} parameters)"),
        ("config", ", ".join(f"{k}={v}" for k, v in model.config.items())),
        ("training time (recorded)", f"{sum(h.get('epoch_seconds', [])) / 60:.1f} min for {len(h.get('train_loss', []))} epochs"),
        ("test negative ELBO (nats/image)", f"{ev['loss']:.1f} = recon {ev['recon']:.1f} + KL {ev['kl']:.1f}"),
        ("decoder sigma ([-1, 1] scale)", f"{model.sigma():.3f}"),
        ("active latent units (KL > 0.01 nats)", f"{int((kl_dim > 0.01).sum())} of {model.latent_dim}"),
        ("latent kNN accuracy (k=5, train -> test)", f"{sep.knn_accuracy:.4f}"),
        ("baseline: kNN accuracy on raw pixels (784-D, k=5)", f"{pixel_knn:.4f}"),
        ("silhouette of test codes by class", f"{sep.silhouette:.3f}"),
        ("judge classifier: test accuracy", f"{kept['classifier_on_originals']:.4f}"),
        ("judge classifier on reconstructions", f"{kept['classifier_on_reconstructions']:.4f}"),
    ]
    print("| figure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CHECKPOINT_DIR / "vae.pt")
