"""Make the shipped checkpoints with the project's own code (documented in the README).

    .venv/bin/python scripts/make_checkpoints.py            # classifier, vae.pt, cvae.pt (~10 min, 2-core CPU)
    .venv/bin/python scripts/make_checkpoints.py --only vae

1. checkpoints/classifier.pt: the judge classifier (helpers.classifier), 4 epochs, seed 0.
2. checkpoints/vae.pt: notebook 02 run by papermill on its real defaults (so the shipped model
   is exactly what a learner's default run makes), exported without optimizer state.
3. checkpoints/cvae.pt: the same with CONDITIONAL=True.
The executed notebook is kept in outputs/make_checkpoints/ as the record of the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.classifier import save_classifier, train_classifier  # noqa: E402
from helpers.config import CHECKPOINT_DIR, JUDGE_PATH  # noqa: E402
from helpers.data import load_fashion_mnist  # noqa: E402
from helpers.model import export_checkpoint  # noqa: E402


def make_classifier() -> None:
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    start = time.perf_counter()
    clf = train_classifier(train.scaled(), train.labels, epochs=4, seed=0)
    acc = float((clf.predict(test.scaled()) == test.labels).float().mean())
    save_classifier(JUDGE_PATH, clf, acc)
    print(f"classifier: test accuracy {acc:.4f}, {time.perf_counter() - start:.0f} s")


def make_vae(conditional: bool) -> None:
    name = "cvae" if conditional else "vae"
    out_dir = ROOT / "outputs" / "make_checkpoints"
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = out_dir / f"{name}_training.pt"
    if trained.exists():
        trained.unlink()
    cmd = [sys.executable, "-m", "papermill", "--cwd", str(ROOT / "notebooks"),
           str(ROOT / "notebooks" / "02_train_vae.ipynb"), str(out_dir / f"02_train_{name}.ipynb"),
           "-p", "CHECKPOINT_OUT", str(trained), "-p", "CONDITIONAL", str(conditional)]
    env = dict(os.environ, VAE_LAB_SMOKE="0")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    export_checkpoint(trained, CHECKPOINT_DIR / f"{name}.pt")
    print(f"{name}.pt: notebook 02 default run in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["classifier", "vae", "cvae"], help="make just one of them")
    args = ap.parse_args()
    if args.only in (None, "classifier"):
        make_classifier()
    if args.only in (None, "vae"):
        make_vae(conditional=False)
    if args.only in (None, "cvae"):
        make_vae(conditional=True)
