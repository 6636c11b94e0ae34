"""Shared fixtures. Tests read Fashion-MNIST from $FASHION_MNIST_DIR, else ../shared/fashion-mnist
beside the repository; no test needs the internet."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def offline_data_dir() -> Path:
    path = Path(os.environ.get("FASHION_MNIST_DIR", ROOT.parent / "shared" / "fashion-mnist"))
    if not (path / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.fail(f"The tests need the offline Fashion-MNIST folder; none at {path}. "
                    f"Set FASHION_MNIST_DIR to a folder with the four IDX .gz files.")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return offline_data_dir()


@pytest.fixture(scope="session")
def fmnist(data_dir):
    """(train, test) FashionMNIST splits, loaded once per session."""
    from helpers.data import load_fashion_mnist

    return load_fashion_mnist("train", data_dir), load_fashion_mnist("test", data_dir)


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path, monkeypatch):
    """Every test gets its own runs/ folder, and the CI smoke switch is off unless a test sets it."""
    monkeypatch.setenv("VAE_LAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("VAE_LAB_SMOKE", raising=False)


def write_idx(path: Path, array: np.ndarray, compress: bool = True, magic: bytes | None = None) -> Path:
    """Write a uint8 array as an IDX file (the Fashion-MNIST format), gzip-compressed by default."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (magic or bytes([0, 0, 8, array.ndim])) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(path, "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)
    return path


def tiny_model(latent_dim: int = 4, conditional: bool = False, seed: int = 0):
    from helpers.model import ConditionalVAE, ImageVAE

    torch.manual_seed(seed)
    cls = ConditionalVAE if conditional else ImageVAE
    return cls(latent_dim=latent_dim, hidden=32, channels=(4, 8)).eval()


NB_DIR = ROOT / "notebooks"


def run_notebook(name: str, tmp_path: Path, **params):
    """Execute notebooks/<name>.ipynb with papermill (kernel cwd notebooks/, offline data) into
    tmp_path; return (notebook, stream text, number of PNG images). Fails if any code cell was
    left unexecuted (pytorch/tutorials' 0-second rule) or raised."""
    import nbformat
    import papermill as pm

    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(str(NB_DIR / f"{name}.ipynb"), str(out), cwd=str(NB_DIR),
                        parameters={"DATA_DIR": str(offline_data_dir()), **params},
                        progress_bar=False, kernel_name="python3")
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), f"{name}: cells left unexecuted"
    text = "\n".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    return nb, text, images


def number(pattern: str, text: str) -> float:
    """The first group of ``pattern`` in ``text`` as a float (fails if absent)."""
    import re

    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in output"
    return float(m.group(1))
