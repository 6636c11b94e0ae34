"""Make the shipped checkpoints with the project's own code (documented in the README).

    .venv/bin/python tools/make_checkpoints.py             # all five (~45 min, 2-core CPU)
    .venv/bin/python tools/make_checkpoints.py --only vae2d

1. checkpoints/classifier.pt: the judge classifier (helpers.classifier), 4 epochs, seed 0.
2. checkpoints/vae.pt: notebook 02 run by papermill on its defaults, longer and in float32
   (LONG_RUN: 30 epochs instead of 10, PRECISION "fp32", so the file does not depend on the CPU of
   the day), exported without optimizer state.
3. checkpoints/vae2d.pt: the same with LATENT_DIM=2: the 2-D VAE whose decoded manifold notebook
   03 draws.
4. checkpoints/cvae.pt: the conditional VAE of notebook 05 (helpers.cvae.ConditionalVAE), trained
   with the same recipe (one-cycle at 3e-3, batch 256, log sigma at 10x, 30 epochs, float32)
   through notebook 02's own fit (helpers.train.train_vae), then the per-class mixture sampler.
5. checkpoints/shapes64.pt: notebook 06's model (helpers.image_vae.ImageVAE, latent 10, dense 256,
   Bernoulli decoder) trained longer than 06's sweep: SHAPES64_RECIPE (30,000 shapes64 training
   images, 20 epochs = 600,000 images, batch 64, Adam 1e-3, beta 1, float32, seed 0; about 6 minutes
   on a 2-core CPU), the figures of notebook 06 and tools/heldout_shapes.py. ``--seed 1`` makes the
   same run with another seed into outputs/make_checkpoints/ (the second seed of the README's MIG).
The executed notebooks and the training checkpoints are kept in outputs/make_checkpoints/ as the
record of the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from helpers import shapes
from helpers.classifier import save_classifier, train_classifier
from helpers.disentanglement import iou, mutual_information_gap
from helpers.evaluation import reconstruct
from helpers.image_vae import ImageVAE
from helpers.images import load_images
from helpers.config import CHECKPOINT_DIR, JUDGE_PATH, PROJECT_ROOT
from helpers.data import load_fashion_mnist
from helpers.latent import encode_dataset
from helpers.model import ConditionalVAE, export_checkpoint, fit_latent_mixture, save_sampler
from helpers.train import set_seed, train_vae

OUT_DIR = PROJECT_ROOT / "outputs" / "make_checkpoints"
NOTEBOOK_02 = PROJECT_ROOT / "notebooks" / "02_train_vae.ipynb"
#: notebook 02's parameters for the shipped models: its defaults, run longer and in float32
LONG_RUN = {"EPOCHS": 30, "PRECISION": "fp32"}
#: the same recipe for the conditional VAE, which notebook 02 itself does not train
DEFAULTS_02 = dict(seed=0, latent_dim=16, likelihood="gaussian", epochs=30, batch_size=256, lr=3e-3, beta=1.0)
#: the shipped shapes64 model: notebook 06's architecture and plain beta = 1, longer than its sweep
SHAPES64_RECIPE = dict(n_train=30_000, n_test=5_000, epochs=20, batch_size=64, lr=1e-3, beta=1.0, latent_dim=10,
                       hidden=256, likelihood="bernoulli", precision="fp32",
                       recipe="beta 1, 20 epochs of 30,000 images, batch 64, Adam 1e-3, float32")
#: papermill parameters of notebook 02 for each model it makes (the rest stay at its defaults)
NOTEBOOK_RUNS = {"vae": LONG_RUN, "vae2d": {**LONG_RUN, "LATENT_DIM": 2}}


def make_classifier() -> None:
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    start = time.perf_counter()
    clf = train_classifier(train.scaled(), train.labels, epochs=4, seed=0)
    acc = float((clf.predict(test.scaled()) == test.labels).float().mean())
    save_classifier(JUDGE_PATH, clf, acc)
    print(f"classifier: test accuracy {acc:.4f}, {time.perf_counter() - start:.0f} s")


def fresh_training_path(name: str):
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    trained = OUT_DIR / f"{name}_training.pt"
    trained.unlink(missing_ok=True)  # never resume a previous run by accident
    return trained


def make_from_notebook(name: str) -> None:
    """Run notebook 02 on its defaults plus NOTEBOOK_RUNS[name] and export the result as <name>.pt."""
    trained = fresh_training_path(name)
    cmd = [sys.executable, "-m", "papermill", "--cwd", str(NOTEBOOK_02.parent), str(NOTEBOOK_02),
           str(OUT_DIR / f"02_train_{name}.ipynb"), "-p", "CHECKPOINT_OUT", str(trained)]
    for key, value in NOTEBOOK_RUNS[name].items():
        cmd += ["-p", key, str(value)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, VAE_LAB_SMOKE="0"))
    export_checkpoint(trained, CHECKPOINT_DIR / f"{name}.pt")
    print(f"{name}.pt: notebook 02 run with {NOTEBOOK_RUNS[name]} in {time.perf_counter() - start:.0f} s")


def make_shapes64(seed: int = 0) -> None:
    """Train notebook 06's model with SHAPES64_RECIPE and export it as shapes64.pt (seed 0), or
    beside the training record (another seed); print its IoU and MIG on the test split."""
    r = SHAPES64_RECIPE
    trained = fresh_training_path(f"shapes64_seed{seed}")
    train = load_images("shapes64", "train", n=r["n_train"], seed=0)
    test = load_images("shapes64", "test", n=r["n_test"], seed=0)
    start = time.perf_counter()
    set_seed(seed)
    model = ImageVAE(latent_dim=r["latent_dim"], hidden=r["hidden"], likelihood=r["likelihood"],
                     image_shape=train.image_shape)
    train_vae(model, train.scaled(), train.labels, test.scaled(), test.labels, epochs=r["epochs"],
              batch_size=r["batch_size"], lr=r["lr"], beta=r["beta"], seed=seed, checkpoint=trained,
              precision=r["precision"], progress=False,
              config={"dataset": "shapes64", "n_train": r["n_train"], "likelihood": r["likelihood"],
                      "recipe": r["recipe"], "seed": seed})
    model = model.cpu().eval()
    x = test.scaled().tensor()
    scores = iou(reconstruct(model, x), x)
    m = mutual_information_gap(encode_dataset(model, test.scaled(), test.labels).mu, test.factors)
    dst = CHECKPOINT_DIR / "shapes64.pt" if seed == 0 else OUT_DIR / f"shapes64_seed{seed}.pt"
    export_checkpoint(trained, dst)
    print(f"{dst.name} (seed {seed}): {time.perf_counter() - start:.0f} s; test IoU {float(scores.mean()):.3f} ("
          + ", ".join(f"{n} {float(scores[test.labels == k].mean()):.3f}" for k, n in enumerate(test.class_names))
          + f"); MIG {m.mig:.3f}, gaps " + ", ".join(f"{n} {g:.3f}" for n, g in zip(shapes.FACTOR_NAMES, m.gaps)))


def make_cvae(dst=CHECKPOINT_DIR / "cvae.pt", train_subset: int | None = None,
              epochs: int = DEFAULTS_02["epochs"]) -> None:
    """Train the conditional VAE the way notebook 02 trains the plain one and export it to ``dst``.

    train_subset / epochs: smaller settings for a quick check only (the shipped file uses the defaults)."""
    d = DEFAULTS_02
    trained = fresh_training_path("cvae")
    train = load_fashion_mnist("train").subset(train_subset, seed=d["seed"])
    test = load_fashion_mnist("test")
    train_x, train_y, test_x, test_y = train.scaled(), train.labels, test.scaled(), test.labels
    start = time.perf_counter()
    set_seed(d["seed"])
    model = ConditionalVAE(latent_dim=d["latent_dim"], likelihood=d["likelihood"])
    train_vae(model, train_x, train_y, test_x, test_y, epochs=epochs, batch_size=d["batch_size"], lr=d["lr"],
              beta=d["beta"], seed=d["seed"], checkpoint=trained, schedule="one-cycle", sigma_lr_factor=10.0,
              config={"latent_dim": d["latent_dim"], "conditional": True, "likelihood": d["likelihood"],
                      "train_subset": train_subset})
    model = model.cpu().eval()
    model.sampler = fit_latent_mixture(encode_dataset(model, train_x, train_y), conditional=True, seed=d["seed"])
    save_sampler(trained, model.sampler)
    export_checkpoint(trained, dst)
    print(f"{dst.name}: {epochs} epochs with notebook 02's defaults in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["classifier", "vae", "vae2d", "cvae", "shapes64"], help="make just one of them")
    ap.add_argument("--seed", type=int, default=0, help="shapes64 only: another seed, kept in outputs/make_checkpoints/")
    args = ap.parse_args()
    if args.only in (None, "classifier"):
        make_classifier()
    for name in NOTEBOOK_RUNS:
        if args.only in (None, name):
            make_from_notebook(name)
    if args.only in (None, "cvae"):
        make_cvae()
    if args.only in (None, "shapes64"):
        make_shapes64(args.seed)
