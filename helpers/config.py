"""Project paths, the smoke-mode switch, and the one table of parameter rules.

Every notebook checks its papermill parameters with one call, ``check_parameters(SEED=SEED, ...)``:
each name has exactly one rule in :data:`RULES`, and a wrong value ends in one readable
:class:`ParameterError` that names the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: The repository root in a clone (this file lives in ``<root>/helpers/``); in an installed wheel,
#: the folder that holds the package (site-packages), which has no notebooks/ or checkpoints/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: True in a clone of the repository (a ``pip install -e .`` included), False in an installed wheel.
IN_CLONE = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "checkpoints").is_dir()
#: Shipped pretrained checkpoints (made by ``tools/make_checkpoints.py``): ``<root>/checkpoints`` in a
#: clone; in a wheel the same files are package data, ``helpers/checkpoints/`` (pyproject.toml maps them).
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints" if IN_CLONE else Path(__file__).resolve().parent / "checkpoints"
#: The shipped study results notebook 05 reads (``results/`` in a clone, package data in a wheel).
RESULTS_DIR = PROJECT_ROOT / "results" if IN_CLONE else Path(__file__).resolve().parent / "results"
#: The judge classifier that checks whether reconstructions and samples keep their class.
JUDGE_PATH = CHECKPOINT_DIR / "classifier.pt"
#: Where torchvision downloads Fashion-MNIST when no offline folder is given: ``<root>/data`` in a
#: clone, else ``data/`` beside the notebook (the kernel's working folder: Colab's /content).
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" if IN_CLONE else Path.cwd() / "data"


def runs_dir() -> Path:
    """Folder for a learner's own runs (checkpoints trained in notebook 02).

    ``<root>/runs`` in a clone, ``runs/`` beside the notebook (the kernel's working folder) when
    the package is installed from a wheel, unless the environment variable ``VAE_LAB_RUNS_DIR``
    names another folder (the tests point it at a temporary folder so they never touch a
    learner's runs).
    """
    default = PROJECT_ROOT / "runs" if IN_CLONE else Path.cwd() / "runs"
    return Path(os.environ.get("VAE_LAB_RUNS_DIR", default))


def smoke_mode() -> bool:
    """True when ``VAE_LAB_SMOKE=1``: notebooks pick tiny defaults (CI), running the same code."""
    return os.environ.get("VAE_LAB_SMOKE", "0") == "1"


def smoke_sizes(namespace: dict, **caps) -> None:
    """Cap a notebook's sizes for CI's quick run: only when ``VAE_LAB_SMOKE=1``, else nothing.

    A notebook's setup cell calls ``smoke_sizes(globals(), EPOCHS=1, TRAIN_SUBSET=2000)`` one line
    after its parameters, so its parameters cell shows only what a learner sets. Each named value
    becomes ``min(value, cap)``, and a value of None (meaning "all") becomes the cap: a smaller value
    that papermill injected is kept."""
    if not smoke_mode():
        return
    for name, cap in caps.items():
        value = namespace.get(name)
        namespace[name] = cap if value is None else min(value, cap)


#: The models notebooks can load by name: the plain VAE, the conditional VAE (notebook 05), the
#: 2-D VAE whose decoded manifold notebook 03 draws, and the 64 x 64 shapes VAE of notebook 06.
MODEL_NAMES = ("vae", "cvae", "vae2d", "shapes64")


def trained_checkpoint_path(name: str = "vae") -> Path:
    """Where notebook 02 saves a model of that name: ``runs/<name>.pt``."""
    return runs_dir() / f"{name}.pt"


def shipped_checkpoint_path(name: str = "vae") -> Path:
    """The pretrained checkpoint that ships with the project: ``checkpoints/<name>.pt``."""
    return CHECKPOINT_DIR / f"{name}.pt"


def default_checkpoint(name: str = "vae") -> Path:
    """The checkpoint a notebook uses when its checkpoint parameter is ``"auto"``.

    The learner's own model from notebook 02 (``runs/<name>.pt``) if it exists, else the shipped
    pretrained one, so every notebook runs on its own after a kernel restart whether or not 02 has
    been run. name: one of :data:`MODEL_NAMES`.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"name={name!r} is not allowed: use one of {MODEL_NAMES}")
    own = trained_checkpoint_path(name)
    return own if own.is_file() else shipped_checkpoint_path(name)


def checkpoint_parameter(value, name: str = "vae", *, write: bool = False) -> Path:
    """A notebook's checkpoint parameter (``CHECKPOINT``, ``CHECKPOINT_OUT``, ...) as a path.

    ``"auto"``: :func:`default_checkpoint` (reading) or :func:`trained_checkpoint_path` (writing)
    of ``name``; a plain run name without a folder or suffix, e.g. ``"short_beta4"``: that run in
    ``runs/`` (wherever runs/ is: the clone's, or beside the notebook); anything else: a path."""
    if value == "auto":
        return trained_checkpoint_path(name) if write else default_checkpoint(name)
    text = str(value)
    if "/" not in text and "\\" not in text and "." not in text:
        return runs_dir() / f"{text}.pt"
    return Path(text)


class ParameterError(ValueError):
    """A notebook or helper parameter has a value outside its allowed range."""


def _fail(name: str, value, allowed: str):
    raise ParameterError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


def whole_number(minimum: int = 0, maximum: int | None = None, optional: bool = False):
    """Rule: an int in [minimum, maximum] (``None`` too when ``optional``: "use all")."""
    allowed = (f"a whole number between {minimum} and {maximum}" if maximum is not None
               else f"a whole number >= {minimum}") + (" (or None)" if optional else "")

    def check(name, value):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            _fail(name, value, allowed)
    return check


def number(minimum: float = 0.0, strictly_above: bool = False):
    """Rule: a finite int or float >= minimum (> minimum with ``strictly_above``)."""
    allowed = f"a finite number {'>' if strictly_above else '>='} {minimum:g}"

    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < minimum or (strictly_above and value == minimum):
            _fail(name, value, allowed)
    return check


def one_of(*choices):
    """Rule: one of ``choices`` (compared with ==)."""
    def check(name, value):
        if isinstance(value, bool) != isinstance(choices[0], bool) or value not in choices:
            _fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return check


def path_or(*words, optional: bool = False):
    """Rule: a file or folder path (str or Path), one of ``words`` (e.g. "auto"), or None if optional."""
    allowed = "a path" + "".join(f" or {w!r}" for w in words) + (" or None" if optional else "")

    def check(name, value):
        if value is None and optional:
            return
        if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value.strip()):
            _fail(name, value, allowed)
    return check


def dataset_name():
    """Rule: a dataset helpers.images.load_images knows, or "folder:PATH" with a non-empty PATH."""
    names = ("fashion-mnist", "shapes64", "cifar10", "celeba")
    allowed = "one of " + ", ".join(repr(n) for n in names) + " or 'folder:PATH' (a folder of your images)"

    def check(name, value):
        if not isinstance(value, str) or not (value in names or (value.startswith("folder:") and value[7:].strip())):
            _fail(name, value, allowed)
    return check


def numbers(minimum: float = 0.0, most: int = 6):
    """Rule: a non-empty list or tuple of at most ``most`` distinct finite numbers >= minimum."""
    one = number(minimum)
    allowed = f"a list of 1 to {most} different finite numbers >= {minimum:g}, e.g. (1, 4, 16)"

    def check(name, value):
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= most or len(set(value)) != len(value):
            _fail(name, value, allowed)
        for v in value:
            try:
                one(name, v)
            except ParameterError:
                _fail(name, value, allowed)
    return check


DEVICES = ("auto", "cpu", "cuda", "mps")

#: The one rule of every notebook parameter, by name.
RULES = {
    "SEED": whole_number(0),
    "DEVICE": one_of(*DEVICES),
    "DATA_DIR": path_or(optional=True),
    "CHECKPOINT": path_or("auto"),
    "CHECKPOINT_OUT": path_or("auto"),
    "CVAE_CHECKPOINT": path_or("auto"),
    "VAE2D_CHECKPOINT": path_or("auto"),
    "LATENT_DIM": whole_number(1, 512),
    "BETA": number(0.0),
    "CONDITIONAL": one_of(False, True),
    "LIKELIHOOD": one_of("gaussian", "bernoulli"),
    "EPOCHS": whole_number(1),
    "BATCH_SIZE": whole_number(1),
    "LEARNING_RATE": number(0.0, strictly_above=True),
    "LR_SCHEDULE": one_of("one-cycle", "constant"),
    "PRECISION": one_of("auto", "fp32", "bf16"),
    "SIGMA_LR_FACTOR": number(0.0, strictly_above=True),
    "TRAIN_SUBSET": whole_number(1, 60_000, optional=True),
    "RESUME": one_of(False, True),
    "N_EXAMPLES": whole_number(1, 20),
    "N_POINTS": whole_number(1, 10_000),
    "KNN_K": whole_number(1, 100),
    "N_SAMPLES": whole_number(1, 256),
    "STEPS": whole_number(2, 50),
    "ITEM_A": lambda name, value: None,  # checked by helpers.data.find_item, which knows the data
    "ITEM_B": lambda name, value: None,
    # "GENERATE_CLASS": one of the class names, registered by helpers.data beside CLASS_NAMES
    "N_STYLES": whole_number(1, 12),
    "N_JUDGED": whole_number(100, 10_000),
    "COMPONENTS": whole_number(1, 100),
    "IW_IMAGES": whole_number(1, 10_000),
    "DATASET": dataset_name(),
    "IMAGE_SIZE": one_of(28, 32, 64),
    "N_TRAIN": whole_number(2, optional=True),
    "N_TEST": whole_number(2, 73_728),
    "BETAS": numbers(0.0),
    "MAIN_BETA": number(0.0),
    "TRAIN_IMAGES": whole_number(1),
    "MAIN_MODEL": one_of("auto", "trained"),
}


def check_notebook_parameters(namespace: dict) -> None:
    """:func:`check_parameters` for every UPPER_CASE name in a notebook's ``globals()`` that has a rule."""
    check_parameters(**{k: v for k, v in namespace.items() if k in RULES})


#: Parameters whose value must be one of another parameter's values, checked when both are given.
MEMBER_OF = {"MAIN_BETA": "BETAS"}


def check_parameters(*, auto: tuple = (), **values) -> None:
    """Check each ``NAME=value`` against its rule in :data:`RULES`; raise ParameterError on the first bad one.

    ``auto``: names that may also be "auto" in this notebook (notebook 06's ``LATENT_DIM`` and
    ``LIKELIHOOD``, which it picks from the data).

    >>> check_parameters(SEED=0, EPOCHS=20)
    >>> check_parameters(EPOCHS=0)
    Traceback (most recent call last):
    ...
    helpers.config.ParameterError: EPOCHS=0 is not allowed: EPOCHS must be a whole number >= 1.
    """
    for name, value in values.items():
        if name not in RULES:
            raise KeyError(f"no rule for parameter {name!r}: add one to helpers.config.RULES")
        if name in auto and value == "auto":
            continue
        try:
            RULES[name](name, value)
        except ParameterError as err:
            if name not in auto:
                raise
            raise ParameterError(f"{err.args[0][:-1]}, or 'auto'.") from None
    for name, of in MEMBER_OF.items():
        if name in values and of in values and values[name] not in values[of]:
            raise ParameterError(f"{name}={values[name]!r} is not allowed: {name} must be one of "
                                 f"{of} = {tuple(values[of])!r}.")
