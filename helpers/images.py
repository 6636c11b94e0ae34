"""One loader for every image set the series trains on (notebook 06): ``load_images(dataset, split)``.

========================  ================  =============================================
``dataset``               image shape       where the images come from
========================  ================  =============================================
``"fashion-mnist"``       (1, 28, 28)       :mod:`helpers.data` (offline folder or download)
``"shapes64"``            (1, 64, 64)       :mod:`helpers.shapes`, drawn on the fly; factors
``"folder:PATH"``         (1 or 3, 64, 64)  your own images (flat folder or ImageFolder layout)
``"cifar10"``             (3, 32, 32)       torchvision download (online)
``"celeba"``              (3, 64, 64)       torchvision download (online), 148-px centre crop
========================  ================  =============================================

Each returns an :class:`ImageSet`: uint8 images (N, C, H, W) in 0..255, labels, class names, and
for ``shapes64`` the true factors of variation. Models take ``images.scaled()``, float32 in
[-1, 1]; :class:`ScaledImages` does the scaling batch by batch, so a large uint8 set never has to
sit in memory four times over as float32.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DEFAULT_DATA_DIR
from .data import CLASS_NAMES, DataError, load_fashion_mnist, to_model_range
from . import shapes

DATASETS = ("fashion-mnist", "shapes64", "cifar10", "celeba", "folder:PATH")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
FOLDER_TEST_SHARE = 0.1


@dataclass
class ImageSet:
    """One split of an image set in memory.

    images: uint8 (N, C, H, W) in 0..255; labels: long (N,) class ids (0 where a set has no classes);
    class_names: one name per class id; source: where it came from. For ``shapes64``: factors, long
    (N, 5) factor indices (helpers.shapes.FACTOR_NAMES), and indices, the images' grid indices (N,).
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple
    source: str
    factors: torch.Tensor | None = None
    indices: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.images.shape[1:])

    def scaled(self) -> "ScaledImages":
        """The images as the models take them, float32 in [-1, 1], scaled batch by batch."""
        return ScaledImages(self.images)


class ScaledImages:
    """uint8 images (N, C, H, W) seen as float32 in [-1, 1] (x = pixel / 127.5 - 1), one slice at a time.

    Supports what training and encoding use: ``len``, ``x[idx]`` (an index tensor or slice),
    ``x.split(batch)`` and ``x.shape``; ``x.tensor()`` scales everything at once.
    """

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> torch.Size:
        return self.images.shape

    def __getitem__(self, idx) -> torch.Tensor:
        x = self.images[idx]
        return to_model_range(x.unsqueeze(0))[0] if x.dim() == 3 else to_model_range(x)

    def split(self, size: int):
        return [to_model_range(part) for part in self.images.split(size)]

    def tensor(self) -> torch.Tensor:
        return to_model_range(self.images)


def load_images(dataset: str, split: str = "train", n: int | None = None, seed: int = 0,
                data_dir: str | os.PathLike | None = None, size: int = 64, channels: int | str = "auto") -> ImageSet:
    """Load one split of ``dataset`` (see the table above) as an :class:`ImageSet`.

    n: a seeded random subset of n items (all when None); for ``shapes64`` the split has 663,552
    (train) or 73,728 (test) images and only the n drawn are rendered. data_dir: Fashion-MNIST's
    offline folder. size, channels: for ``folder:`` sets, the side to resize to and 1, 3 or
    "auto" (grey when every image is grey). Raises DataError with what to do on any failure.
    """
    if split not in ("train", "test"):
        raise DataError(f"split={split!r} is not allowed: use 'train' or 'test'.")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise DataError(f"n={n!r} is not allowed: use a whole number >= 1, or None for the whole split.")
    name = str(dataset)
    if name == "fashion-mnist":
        fm = load_fashion_mnist(split, data_dir).subset(n, seed=seed)
        return ImageSet(fm.images.unsqueeze(1), fm.labels, CLASS_NAMES, fm.source)
    if name == "shapes64":
        return load_shapes64(split, n, seed)
    if name.startswith("folder:"):
        return subset(load_folder(name[len("folder:"):], split, size=size, channels=channels), n, seed)
    if name == "cifar10":
        return subset(_load_cifar10(split), n, seed)
    if name == "celeba":
        return _load_celeba(split, n, seed, size)
    raise DataError(f"dataset={dataset!r} is not allowed: use one of {', '.join(DATASETS)} "
                    f"(folder:PATH with the path of a folder of images).")


def seeded_pick(total: int, n: int, seed: int) -> torch.Tensor:
    """n of the indices 0..total-1 drawn at random (seeded), in rising order: long (n,)."""
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def subset(images: ImageSet, n: int | None, seed: int = 0) -> ImageSet:
    """A seeded random subset of n items in their original order (all when n is None or >= N)."""
    if n is None or n >= len(images):
        return images
    idx = seeded_pick(len(images), n, seed)
    pick = lambda t: None if t is None else t[idx]  # noqa: E731
    return ImageSet(images.images[idx], images.labels[idx], images.class_names, images.source,
                    pick(images.factors), pick(images.indices))


def load_shapes64(split: str = "train", n: int | None = None, seed: int = 0) -> ImageSet:
    """The shapes64 grid's split (helpers.shapes), n images drawn at random (seeded); labels = shape."""
    idx = shapes.split_indices(split)
    if n is not None and n < len(idx):
        idx = idx[seeded_pick(len(idx), n, seed)]
    factors = shapes.factors_of(idx)
    return ImageSet(shapes.render(idx), factors[:, 0].clone(), shapes.SHAPES,
                    f"shapes64 ({split}, drawn by helpers.shapes)", factors, idx)


# -- your own images -----------------------------------------------------------------------------
def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def folder_layout(folder: str | os.PathLike) -> tuple[list[Path], list[int], tuple]:
    """The image files of a folder, their class ids and the class names.

    A folder whose sub-folders hold images is in torchvision's ImageFolder layout (one class per
    sub-folder, sorted by name); a folder that holds the images itself is one class named after it.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"folder:{folder}: no such folder. Give the path of a folder of images "
                        f"(.png, .jpg, ...), e.g. DATASET = 'folder:/home/me/photos'.")
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and _image_files(d))
    flat = _image_files(folder)
    if classes and flat:
        raise DataError(f"folder:{folder} holds images itself ({flat[0].name}, ...) and in sub-folders "
                        f"({classes[0].name}/, ...). Use one layout: all images in the folder, or one "
                        f"sub-folder per class.")
    if classes:
        files = [(p, c) for c, d in enumerate(classes) for p in _image_files(d)]
        return [p for p, _ in files], [c for _, c in files], tuple(d.name for d in classes)
    if not flat:
        raise DataError(f"folder:{folder} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)} files "
                        f"in it and in its sub-folders). Put your images there.")
    return flat, [0] * len(flat), (folder.name,)


def on_white(img):
    """A PIL image as RGB, any transparency composited onto a white background."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return img.convert("RGB")


def square_resize(img, size: int, crop: int | None = None):
    """A PIL image centre-cropped to a square (side ``crop``, default its shorter side), resized to size x size."""
    from PIL import Image

    w, h = img.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def load_folder(path: str | os.PathLike, split: str = "train", size: int = 64, channels: int | str = "auto") -> ImageSet:
    """Your own images: every image in ``path`` centre-cropped to a square and resized to size x size.

    channels: 1 (grey), 3 (RGB) or "auto" (1 when every image is grey, else 3). An image with
    transparency (RGBA, LA, or a palette with a transparent colour) is composited onto white, as
    a page or a browser shows it (a transparent pixel is white, a half-transparent one half its
    colour, half white), so a cut-out icon is a picture on a white ground, not on whatever colour its
    invisible pixels store. An image whose
    shorter side is below size / 2 is refused, as is a file that cannot be read (the message names
    it). The split is a fixed random 10 % "test" (at least 1 image), the rest "train".
    """
    from PIL import Image, UnidentifiedImageError

    if size not in (28, 32, 64):
        raise DataError(f"size={size!r} is not allowed: use 28, 32 or 64 (the sides the VAE takes).")
    if channels not in (1, 3, "auto"):
        raise DataError(f"channels={channels!r} is not allowed: use 1 (grey), 3 (colour) or 'auto'.")
    files, labels, names = folder_layout(path)
    if len(files) < 2:
        raise DataError(f"folder:{path} holds {len(files)} image; at least 2 are needed (some for "
                        f"training, 1 held out for testing).")
    arrays = []
    for p in files:
        try:
            with Image.open(p) as img:
                img.load()
                if min(img.size) < size // 2:
                    raise DataError(f"{p} is {img.size[0]}x{img.size[1]} pixels, too small to resize to "
                                    f"{size}x{size}: its shorter side must be at least {size // 2}. Remove it "
                                    f"or replace it with a larger image.")
                arrays.append(np.asarray(square_resize(on_white(img), size)))
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise DataError(f"{p} could not be read as an image ({type(err).__name__}: {err}). Remove it from "
                            f"the folder or replace it with a readable image.") from None
    rgb = np.stack(arrays)  # (N, size, size, 3)
    grey = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    c = (1 if grey else 3) if channels == "auto" else channels
    if c == 1:
        pixels = rgb[..., :1] if grey else np.round(rgb @ np.array([0.299, 0.587, 0.114]))[..., None]
    else:
        pixels = rgb
    images = torch.from_numpy(np.ascontiguousarray(pixels.astype(np.uint8).transpose(0, 3, 1, 2)))
    n_test = max(1, int(round(FOLDER_TEST_SHARE * len(files))))
    perm = torch.randperm(len(files), generator=torch.Generator().manual_seed(0))
    idx = (perm[:n_test] if split == "test" else perm[n_test:]).sort().values
    return ImageSet(images[idx], torch.tensor(labels)[idx], names, str(Path(path).expanduser()))


# -- downloads -----------------------------------------------------------------------------------
def _download_error(name: str, err: Exception, where: Path) -> DataError:
    return DataError(f"Could not load {name} into {where} ({type(err).__name__}: {str(err)[:200]}). It is "
                     f"downloaded by torchvision and needs internet once. Offline? Download it on a machine "
                     f"with internet (e.g. run load_images('{name.lower().replace('-', '')}') there) and copy "
                     f"its folder into {where}, or train on shapes64 or folder:PATH, which need no download.")


def _load_cifar10(split: str) -> ImageSet:
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(str(DEFAULT_DATA_DIR), train=(split == "train"), download=True)
    except Exception as err:  # urllib / socket / checksum errors all end here
        raise _download_error("CIFAR-10", err, DEFAULT_DATA_DIR) from None
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return ImageSet(images, torch.tensor(ds.targets, dtype=torch.long), tuple(ds.classes),
                    str(DEFAULT_DATA_DIR / "cifar-10-batches-py"))


def _load_celeba(split: str, n: int | None, seed: int, size: int = 64) -> ImageSet:
    from torchvision.datasets import CelebA

    try:
        ds = CelebA(str(DEFAULT_DATA_DIR), split="train" if split == "train" else "test", download=True)
    except Exception as err:  # gdown / network / integrity errors all end here
        raise _download_error("CelebA", err, DEFAULT_DATA_DIR) from None
    order = torch.arange(len(ds))
    if n is not None and n < len(ds):
        order = seeded_pick(len(ds), n, seed)
    arrays = [np.asarray(square_resize(ds[int(i)][0].convert("RGB"), size, crop=148)) for i in order]
    images = torch.from_numpy(np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2)))
    return ImageSet(images, torch.zeros(len(order), dtype=torch.long), ("face",), str(DEFAULT_DATA_DIR / "celeba"))
