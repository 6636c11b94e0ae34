"""``shapes64``: the dSprites factor grid, drawn by the project's own code (no download).

Every combination of five factors of variation is one binary 64 x 64 image (Matthey et al. 2017):

====================  ======  ==================================================
factor                values  what it does
====================  ======  ==================================================
shape                 3       square, ellipse, heart
scale                 6       0.5 to 1 (the sprite's size; 1 = 22 pixels across)
orientation           40      k * 2 pi / 40 for k = 0..39: a full turn
x                     32      0 to 1, left to right (sprite centre 16 to 48 px)
y                     32      0 to 1, top to bottom
====================  ======  ==================================================

3 * 6 * 40 * 32 * 32 = 737,280 images. Image ``i`` has the factor indices of ``i`` written in
mixed radix (shape slowest, y fastest, dSprites' order), so the same index always gives the same
image. Drawing is vectorised: :func:`render` draws any batch of indices at once (pixel centres
inside the rotated, scaled, shifted sprite are 255, the rest 0), with only elementwise float32
arithmetic on sines and cosines from a fixed table, so every machine draws the same pixels. The whole grid is 3 GB as
uint8, so notebooks draw the subset they train on (:func:`split_indices` gives a fixed
train/test split).

The squares repeat every quarter turn and the ellipses every half turn, as in dSprites: such
images are identical for different orientation values, which caps what any code can know about
orientation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

SIZE = 64
SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
NUM_IMAGES = math.prod(FACTOR_SIZES)  # 737,280
#: Each factor's values, index k -> value (shape: the index itself, names in SHAPES).
FACTOR_VALUES = (
    np.arange(3, dtype=np.float64),
    np.linspace(0.5, 1.0, 6),
    np.arange(40) * (2 * math.pi / 40),
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
HALF_SIZE = 11.0  # pixels from the sprite's centre to the edge of a scale-1 square
POSITION_LO, POSITION_RANGE = 16.0, 32.0  # factor x (or y) = 0 puts the centre at pixel 16, 1 at 48
TEST_SHARE = 0.1
SPLIT_SEED = 1234
_COS = np.array([math.cos(a) for a in FACTOR_VALUES[2]])  # libm, not SIMD: the same on every CPU
_SIN = np.array([math.sin(a) for a in FACTOR_VALUES[2]])
_RADIX = np.array([math.prod(FACTOR_SIZES[k + 1:]) for k in range(5)], dtype=np.int64)


def _as_indices(indices) -> np.ndarray:
    idx = np.asarray(torch.as_tensor(indices).cpu() if isinstance(indices, torch.Tensor) else indices)
    idx = np.atleast_1d(idx)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"indices must be whole numbers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= NUM_IMAGES):
        bad = idx[(idx < 0) | (idx >= NUM_IMAGES)][0]
        raise ValueError(f"index {int(bad)} is outside the shapes64 grid: use 0..{NUM_IMAGES - 1}")
    return idx.astype(np.int64)


def factors_of(indices) -> torch.Tensor:
    """Image indices (N,) -> factor indices (N, 5) long, columns in FACTOR_NAMES order."""
    idx = _as_indices(indices)
    return torch.from_numpy((idx[:, None] // _RADIX[None, :]) % np.array(FACTOR_SIZES)[None, :])


def index_of(factors) -> torch.Tensor:
    """Factor indices (N, 5) (or one row (5,)) -> image indices (N,) long: the inverse of factors_of."""
    f = np.atleast_2d(np.asarray(torch.as_tensor(factors).cpu(), dtype=np.int64))
    if f.shape[1] != 5 or (f < 0).any() or (f >= np.array(FACTOR_SIZES)).any():
        raise ValueError(f"factors must be rows of 5 indices below {FACTOR_SIZES} "
                         f"({', '.join(FACTOR_NAMES)}), got {f[:3].tolist()}")
    return torch.from_numpy(f @ _RADIX)


def factor_values(indices) -> torch.Tensor:
    """Image indices (N,) -> factor values (N, 5) float64: shape id, scale, angle (radians), x, y in [0, 1]."""
    f = factors_of(indices).numpy()
    return torch.from_numpy(np.stack([FACTOR_VALUES[k][f[:, k]] for k in range(5)], axis=1))


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v), in units of the sprite's half size (x right, y down), lie inside ``shape``."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:  # ellipse, twice as wide as high
        return u * u + 4.0 * v * v <= 1.0
    # heart: the curve (X^2 + Y^2 - 1)^3 = X^2 Y^3 (Y up), scaled to fit the same box
    hx, hy = 1.15 * u, 0.15 - 1.15 * v
    hx2 = hx * hx
    r = hx2 + hy * hy - 1.0
    return r * r * r <= hx2 * hy * hy * hy


def render(indices, chunk: int = 2048) -> torch.Tensor:
    """Draw the images with these indices: (N,) -> uint8 (N, 1, 64, 64), values 0 or 255.

    Pure function of the index: the same index gives the same pixels on every call and machine.
    """
    idx = _as_indices(indices)
    out = np.empty((len(idx), 1, SIZE, SIZE), dtype=np.uint8)
    centres = np.arange(SIZE, dtype=np.float32) + 0.5  # pixel centres
    for start in range(0, len(idx), chunk):
        f = factors_of(idx[start:start + chunk]).numpy()
        half = (HALF_SIZE * FACTOR_VALUES[1][f[:, 1]]).astype(np.float32)[:, None, None]
        cos = _COS[f[:, 2]].astype(np.float32)[:, None, None] / half
        sin = _SIN[f[:, 2]].astype(np.float32)[:, None, None] / half
        cx = (POSITION_LO + POSITION_RANGE * FACTOR_VALUES[3][f[:, 3]]).astype(np.float32)
        cy = (POSITION_LO + POSITION_RANGE * FACTOR_VALUES[4][f[:, 4]]).astype(np.float32)
        dx = centres[None, None, :] - cx[:, None, None]  # (B, 1, 64): along a row
        dy = centres[None, :, None] - cy[:, None, None]  # (B, 64, 1): down the columns
        block = out[start:start + chunk, 0]
        for shape in np.unique(f[:, 0]):  # each shape's test only on its own images
            m = f[:, 0] == shape
            u = cos[m] * dx[m] + sin[m] * dy[m]  # the pixel in the sprite's frame, in half sizes
            v = cos[m] * dy[m] - sin[m] * dx[m]
            block[m] = _inside(int(shape), u, v).astype(np.uint8) * 255
    return torch.from_numpy(out)


def split_indices(split: str) -> torch.Tensor:
    """The grid's fixed split: "test" = a seeded random 10 % of the 737,280 indices (73,728),
    "train" = the rest; sorted long (N,)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r} is not allowed: use 'train' or 'test'")
    perm = torch.randperm(NUM_IMAGES, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(round(TEST_SHARE * NUM_IMAGES))
    part = perm[:n_test] if split == "test" else perm[n_test:]
    return part.sort().values
