"""Held-out shapes for the shapes64 model, drawn by code independent of ``helpers.shapes``.

    .venv/bin/python tools/heldout_shapes.py [checkpoints/shapes64.pt]

Squares and ellipses (aspect 0.6), hard-edged (pixels 0 or 255), half-size 5-10 pixels (the
square's half side, the ellipse's long half axis), centres anywhere in the middle half of the
64 x 64 frame (16-48 pixels), any rotation. They are drawn as polygons by Pillow's rasteriser
(``ImageDraw.polygon``), not by the project's renderer, whose sizes, aspect and rotations form a
fixed grid that these do not follow. Prints the model's mean IoU on them (overall and per shape)
beside its IoU on the project's own test split (per shape), the figures issue 23 sets floors on.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

SIZE = 64
ASPECT = 0.6
HALF_SIZES = (5.0, 10.0)
CENTRE_RANGE = (16.0, 48.0)
HELD_OUT_SHAPES = ("square", "ellipse")


def draw_heldout(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n shapes, half squares and half ellipses: (uint8 (n, 1, 64, 64) in {0, 255}, long (n,) shape ids
    0 = square, 1 = ellipse). Seeded: the same n and seed give the same images."""
    if n < 1:
        raise ValueError(f"n={n} is not allowed: draw at least one shape")
    rng = np.random.default_rng(seed)
    kinds = np.arange(n) % 2
    half = rng.uniform(*HALF_SIZES, n)
    cx, cy = rng.uniform(*CENTRE_RANGE, n), rng.uniform(*CENTRE_RANGE, n)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    out = np.zeros((n, 1, SIZE, SIZE), dtype=np.uint8)
    square = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
    t = np.linspace(0.0, 2 * math.pi, 96, endpoint=False)
    ellipse = np.stack([np.cos(t), ASPECT * np.sin(t)], axis=1)
    for i in range(n):
        outline = (square if kinds[i] == 0 else ellipse) * half[i]
        c, s = math.cos(angle[i]), math.sin(angle[i])
        xy = outline @ np.array([[c, s], [-s, c]]) + (cx[i], cy[i])
        img = Image.new("L", (SIZE, SIZE), 0)
        ImageDraw.Draw(img).polygon([tuple(p) for p in xy], fill=255)
        out[i, 0] = np.asarray(img)
    return torch.from_numpy(out), torch.from_numpy(kinds).long()


def _iou_by(model, x: torch.Tensor, kinds: torch.Tensor, names) -> dict:
    """Mean IoU of model's reconstructions of x (N, 1, 64, 64) in [-1, 1]: {"all", one per name (kind id = index)}."""
    from helpers.disentanglement import iou
    from helpers.evaluation import reconstruct

    scores = iou(reconstruct(model, x), x)
    return {"all": float(scores.mean()), **{name: float(scores[kinds == k].mean()) for k, name in enumerate(names)}}


def heldout_iou(model, n: int = 2000, seed: int = 0) -> dict:
    """Mean IoU of ``model``'s reconstructions of :func:`draw_heldout` shapes: {"all", "square", "ellipse"}."""
    images, kinds = draw_heldout(n, seed)
    return _iou_by(model, images.float() / 127.5 - 1, kinds, HELD_OUT_SHAPES)


def project_test_iou(model, n: int = 10_000, seed: int = 0) -> dict:
    """Mean IoU on ``n`` images of the project's shapes64 test split: {"all", "square", "ellipse", "heart"}."""
    from helpers import shapes
    from helpers.images import load_images

    test = load_images("shapes64", "test", n=n, seed=seed)
    return _iou_by(model, test.scaled().tensor(), test.labels, shapes.SHAPES)


def fmt_iou(result: dict) -> str:
    return f"IoU {result['all']:.3f} (" + ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k != "all") + ")"


def main(path: Path) -> None:
    from helpers.model import load_checkpoint

    model = load_checkpoint(path).eval()
    print(f"{path.name}: held-out shapes (independent drawing, 2,000): {fmt_iou(heldout_iou(model))}")
    print(f"{path.name}: the project's test split (10,000): {fmt_iou(project_test_iou(model))}")


if __name__ == "__main__":
    from helpers.config import CHECKPOINT_DIR
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CHECKPOINT_DIR / "shapes64.pt")
