"""Fashion-MNIST loading and scaling (taught in notebook 01).

Two sources, one result:

* an **offline folder** holding the four IDX files (``train-images-idx3-ubyte.gz`` ... either
  gzip-compressed or not, directly inside or under ``FashionMNIST/raw/``), given as ``data_dir``
  or by the environment variable ``FASHION_MNIST_DIR``;
* torchvision's **download** into ``<root>/data`` for users with internet.

Either way the whole split comes back as one uint8 tensor, so training slices batches out of
memory with no per-image PIL transform.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DEFAULT_DATA_DIR, RULES, ParameterError, one_of

#: The ten classes, in label order 0..9.
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
#: One colour per class (matplotlib's tab10, as RGB in [0, 1]), for every class-coloured plot and map.
CLASS_COLORS = (
    (0.122, 0.467, 0.706), (1.0, 0.498, 0.055), (0.173, 0.627, 0.173), (0.839, 0.153, 0.157),
    (0.580, 0.404, 0.741), (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498),
    (0.737, 0.741, 0.133), (0.090, 0.745, 0.812),
)


def class_color(cls: int) -> tuple[float, float, float]:
    """Class ``cls``'s colour as RGB in [0, 1]: CLASS_COLORS, repeating after ten classes."""
    return CLASS_COLORS[cls % len(CLASS_COLORS)]


RULES["GENERATE_CLASS"] = one_of(*CLASS_NAMES)  # the parameter rule lives beside the names it allows
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DOWNLOAD_SOURCE = "torchvision.datasets.FashionMNIST (fashion-mnist.s3-website.eu-central-1.amazonaws.com)"


class DataError(RuntimeError):
    """Fashion-MNIST could not be found or read; the message says what to do."""


@dataclass
class FashionMNIST:
    """One split in memory.

    images: uint8 tensor (N, 28, 28), values 0..255 (0 = background)
    labels: int64 tensor (N,), values 0..9 (see ``CLASS_NAMES``)
    source: where it was read from (a folder path)
    """

    images: torch.Tensor
    labels: torch.Tensor
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def scaled(self) -> torch.Tensor:
        """The images as float32 (N, 1, 28, 28) in [-1, 1]: what the models take."""
        return to_model_range(self.images)

    def subset(self, n: int | None, seed: int = 0) -> "FashionMNIST":
        """A seeded random subset of ``n`` items, in their original order (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        idx = idx.sort().values
        return FashionMNIST(self.images[idx], self.labels[idx], self.source)


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or (N, 1, 28, 28) in 0..255 -> float32 (N, 1, 28, 28) in [-1, 1].

    x = pixel / 127.5 - 1: background becomes -1, full ink +1. The data are not centred (mean
    about -0.43, half the pixels at -1); the range is chosen to match the decoder's output
    ``2*sigmoid(l) - 1`` exactly and to give the first convolution inputs of order 1 (notebook 01).
    """
    x = images.to(torch.float32)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return x / 127.5 - 1.0


def to_pixel_range(x: torch.Tensor) -> torch.Tensor:
    """float (..., 28, 28) in [-1, 1] -> float in [0, 1] (for display and for the Bernoulli loss)."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The offline folder to read: ``data_dir`` if given, else ``$FASHION_MNIST_DIR``, else None."""
    if data_dir not in (None, ""):
        return Path(data_dir).expanduser()
    env = os.environ.get("FASHION_MNIST_DIR")
    return Path(env).expanduser() if env else None


def _find_file(folder: Path, stem: str) -> Path | None:
    for sub in (folder, folder / "FashionMNIST" / "raw"):
        for name in (stem + ".gz", stem):
            if (sub / name).is_file():
                return sub / name
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(
            f"{path} is truncated or not a valid gzip file ({err}). It may be a half-finished "
            f"download: delete it and download it again (or copy a good file into the folder)."
        ) from None


def read_idx(path: str | os.PathLike, expected_ndim: int) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) of unsigned bytes -> uint8 array.

    expected_ndim: 3 for an image file (N, 28, 28), 1 for a label file (N,).
    Raises DataError naming the file for a bad magic number, wrong shape or short payload.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes (magic {raw[:4].hex() or 'empty'}, "
            f"expected 0000080{expected_ndim}). Replace it with the original Fashion-MNIST file."
        )
    ndim = raw[3]
    if ndim != expected_ndim:
        raise DataError(
            f"{path} holds a {ndim}-D array, expected {expected_ndim}-D "
            f"({'images' if expected_ndim == 3 else 'labels'}). Are image and label files swapped?"
        )
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise DataError(
            f"{path} is damaged: its header promises {count} bytes of data {shape} but it holds "
            f"{len(raw) - header}. Download the file again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _load_folder(folder: Path, split: str) -> FashionMNIST:
    if not folder.is_dir():
        raise DataError(
            f"Fashion-MNIST folder {folder} does not exist. Set FASHION_MNIST_DIR (or DATA_DIR) to "
            f"a folder holding the four IDX .gz files, or leave both unset to download them."
        )
    img_stem, lab_stem = _FILES[split]
    paths = [_find_file(folder, s) for s in (img_stem, lab_stem)]
    missing = [s for s, p in zip((img_stem, lab_stem), paths) if p is None]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(m + '.gz' for m in missing)} (looked in the folder and in "
            f"FashionMNIST/raw/). Put the four Fashion-MNIST IDX files there, or point "
            f"FASHION_MNIST_DIR at a folder that has them."
        )
    images = read_idx(paths[0], 3)
    labels = read_idx(paths[1], 1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{paths[0]} holds images of shape {images.shape[1:]}, expected (28, 28).")
    if len(images) != len(labels):
        raise DataError(
            f"{paths[0].name} has {len(images)} images but {paths[1].name} has {len(labels)} "
            f"labels; the two files do not belong together. Re-copy both from one release."
        )
    if labels.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"{paths[1]} holds label {labels.max()}, expected 0..9.")
    return FashionMNIST(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                        str(folder))


def _download(split: str, root: Path) -> FashionMNIST:
    from torchvision.datasets import FashionMNIST as TVFashionMNIST  # imported only when needed

    try:
        ds = TVFashionMNIST(str(root), train=(split == "train"), download=True)
    except Exception as err:  # urllib / socket / checksum errors all end here
        raise DataError(
            f"Could not download Fashion-MNIST into {root} ({type(err).__name__}: {err}). "
            f"Offline? Set FASHION_MNIST_DIR (or the notebooks' DATA_DIR) to a folder with the four "
            f"IDX .gz files: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz. Download source: "
            f"{DOWNLOAD_SOURCE}."
        ) from None
    return FashionMNIST(ds.data.clone(), ds.targets.clone().long(), str(root / "FashionMNIST"))


def load_fashion_mnist(split: str = "train", data_dir: str | os.PathLike | None = None,
                       download: bool = True) -> FashionMNIST:
    """Load one split ("train": 60,000 items, "test": 10,000) into memory.

    data_dir: an offline folder with the IDX files; defaults to ``$FASHION_MNIST_DIR``. When
    neither is set, torchvision downloads the data into ``<root>/data`` (``download=True``) or a
    previous download there is used.
    """
    if split not in _FILES:
        raise DataError(f"split={split!r} is not allowed: use 'train' or 'test'.")
    folder = resolve_data_dir(data_dir)
    if folder is not None:
        return _load_folder(folder, split)
    if _find_file(DEFAULT_DATA_DIR, _FILES[split][0]) and _find_file(DEFAULT_DATA_DIR, _FILES[split][1]):
        return _load_folder(DEFAULT_DATA_DIR, split)
    if not download:
        raise DataError(
            f"No Fashion-MNIST in {DEFAULT_DATA_DIR} and download=False. Set FASHION_MNIST_DIR to "
            f"a folder with the four IDX .gz files, or allow the download ({DOWNLOAD_SOURCE})."
        )
    return _download(split, DEFAULT_DATA_DIR)


def find_item(labels: torch.Tensor, spec) -> int:
    """Index of the item that ``spec`` names in a split with these labels (N,).

    spec: an int (the item's index), a class name (its first item, e.g. "Sneaker"), or
    "<class name>:<k>" (its k-th item, counting from 0, e.g. "Sneaker:3").
    """
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not 0 <= spec < len(labels):
            raise ParameterError(f"item {spec} is not allowed: use an index in 0..{len(labels) - 1}, "
                                 f"or a class name such as 'Sneaker' or 'Sneaker:3'.")
        return spec
    name, _, k = str(spec).partition(":")
    if name not in CLASS_NAMES:
        raise ParameterError(f"item {spec!r} is not allowed: use a test index (int) or a class name, "
                             f"one of {', '.join(CLASS_NAMES)}, optionally with ':k'.")
    try:
        k = int(k) if k else 0
    except ValueError:
        k = -1
    return class_item(labels, CLASS_NAMES.index(name), k, asked=f"item {spec!r}")


def class_item(labels: torch.Tensor, cls: int, k: int, asked: str | None = None) -> int:
    """Index of the k-th item (counting from 0) of class ``cls`` in a split with these labels (N,).

    asked: how the error message names the request (default "k=<k>").
    """
    members = torch.nonzero(labels == cls).flatten()
    if not 0 <= k < len(members):
        raise ParameterError(f"{asked or f'k={k}'} is not allowed: {CLASS_NAMES[cls]} has {len(members)} items, "
                             f"so k must be in 0..{len(members) - 1}.")
    return int(members[k])
