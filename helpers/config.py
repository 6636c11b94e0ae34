"""Project paths, the smoke-test switch, and parameter checks shared by notebooks and helpers.

Taught in every notebook's *parameters* section: each notebook checks its papermill parameters
with the ``check_*`` functions here, so a wrong value ends in one readable :class:`ParameterError`
that names the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: The repository root (this file lives in ``<root>/helpers/``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Shipped pretrained checkpoints (made by ``scripts/make_checkpoints.py``).
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
#: The judge classifier that checks whether reconstructions and samples keep their class.
JUDGE_PATH = CHECKPOINT_DIR / "classifier.pt"
#: Where torchvision downloads Fashion-MNIST when no offline folder is given.
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


def runs_dir() -> Path:
    """Folder for a learner's own runs (checkpoints trained in notebook 02).

    ``<root>/runs`` unless the environment variable ``VAE_LAB_RUNS_DIR`` names another folder
    (the tests point it at a temporary folder so they never touch a learner's runs).
    """
    return Path(os.environ.get("VAE_LAB_RUNS_DIR", PROJECT_ROOT / "runs"))


def smoke_test() -> bool:
    """True when ``VAE_LAB_SMOKE=1``: notebooks pick tiny defaults (CI), running the same code."""
    return os.environ.get("VAE_LAB_SMOKE", "0") == "1"


def trained_checkpoint_path(conditional: bool = False) -> Path:
    """Where notebook 02 saves its model by default: ``runs/vae.pt`` or ``runs/cvae.pt``."""
    return runs_dir() / ("cvae.pt" if conditional else "vae.pt")


def shipped_checkpoint_path(conditional: bool = False) -> Path:
    """The pretrained checkpoint that ships with the project: ``checkpoints/vae.pt`` / ``cvae.pt``."""
    return CHECKPOINT_DIR / ("cvae.pt" if conditional else "vae.pt")


def default_checkpoint(conditional: bool = False) -> Path:
    """The checkpoint notebooks 03/04 use when ``CHECKPOINT = "auto"``.

    The learner's own model from notebook 02 if it exists, else the shipped pretrained one, so
    03 and 04 run on their own after a kernel restart whether or not 02 has been run.
    """
    own = trained_checkpoint_path(conditional)
    return own if own.is_file() else shipped_checkpoint_path(conditional)


class ParameterError(ValueError):
    """A notebook or helper parameter has a value outside its allowed range."""


def _fail(name: str, value, allowed: str) -> None:
    raise ParameterError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


def check_positive_int(name: str, value, *, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int >= 1 (and <= ``maximum``), else raise ParameterError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _fail(name, value, "a whole number >= 1" + (f" and <= {maximum}" if maximum else ""))
    if maximum is not None and value > maximum:
        _fail(name, value, f"a whole number between 1 and {maximum}")
    return value


def check_nonnegative_int(name: str, value) -> int:
    """Return ``value`` if it is an int >= 0 (a seed, an index), else raise ParameterError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        _fail(name, value, "a whole number >= 0")
    return value


def check_optional_subset(name: str, value, *, available: int) -> int | None:
    """``None`` (use all data) or an int in [1, available]."""
    if value is None:
        return None
    return check_positive_int(name, value, maximum=available)


def check_nonnegative_float(name: str, value, *, positive: bool = False) -> float:
    """Return ``float(value)`` if it is a finite number >= 0 (> 0 with ``positive``), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (positive and value == 0):
        _fail(name, value, "a finite number " + ("> 0" if positive else ">= 0"))
    return float(value)


def check_choice(name: str, value, choices) -> object:
    """Return ``value`` if it is one of ``choices``, else raise ParameterError listing them."""
    if value not in choices:
        _fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value
