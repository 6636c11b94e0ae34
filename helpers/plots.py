"""Figures used across the notebooks: image grids, class-coloured maps, loss curves, strips.

Every function returns the matplotlib Figure (so notebooks and tests can save or inspect it),
puts titles and axis labels on it, and shows images with nearest-pixel scaling: grey images in
grayscale, colour ones in colour. Images are float tensors in [-1, 1], shape (N, C, H, W) with
C in {1, 3} ((N, 1, 28, 28) for Fashion-MNIST) or (N, H, W).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES, class_color, to_pixel_range
from .metrics import confusion_shares


def _as_pixels(images) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) -> (N, H, W) in [0, 1]; (N, 3, H, W) -> (N, H, W, 3)."""
    x = torch.as_tensor(images).detach().float().cpu()
    if x.dim() == 4:
        x = x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)
    return to_pixel_range(x).numpy()


def image_grid(images, nrow: int, title: str | None = None, row_labels=None, col_labels=None,
               cell_inches: float = 0.9):
    """Images (N, C, H, W) in [-1, 1] laid out ``nrow`` rows deep, row-major (grey: grayscale)."""
    pix = _as_pixels(images)
    ncol = int(np.ceil(len(pix) / nrow))
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * cell_inches, nrow * cell_inches + 0.5),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < len(pix):
            ax.imshow(pix[i], cmap="gray" if pix.ndim == 3 else None, vmin=0, vmax=1, interpolation="nearest")
    if row_labels is not None:
        for r, label in enumerate(row_labels):
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if col_labels is not None:
        for c, label in enumerate(col_labels):
            axes[0, c].set_title(label, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_scatter(coords, labels, title: str, xlabel: str, ylabel: str, point_size: float = 3.0,
                  class_names=CLASS_NAMES):
    """2-D points (N, 2) coloured by class with a legend of ``class_names`` (Fashion-MNIST's by default)."""
    coords = np.asarray(coords)
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    for c, name in enumerate(class_names):
        sel = labels == c
        ax.scatter(coords[sel, 0], coords[sel, 1], s=point_size, color=class_color(c),
                   label=f"{c}: {name}", alpha=0.7, linewidths=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=4, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
    fig.tight_layout()
    return fig


def loss_curves(history: dict, zoom_from: int = 1, title: str = ""):
    """Train and test curves of the total loss, reconstruction and KL terms (nats per image) by epoch.

    zoom_from: the first epoch (1-based) whose figures set the y-axes of the loss and reconstruction
    panels, so that the first epochs' large values do not flatten the rest; 1 shows every epoch whole.
    The KL panel always shows every epoch."""
    n = len(history["train_loss"])
    if not isinstance(zoom_from, int) or not 1 <= zoom_from:
        raise ValueError(f"zoom_from={zoom_from!r}: give the first epoch to frame, a whole number from 1")
    start = min(zoom_from, n) - 1
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    epochs = np.arange(1, n + 1)
    for ax, key, name in zip(axes, ("loss", "recon", "kl"),
                             ("total loss (recon + beta * KL)", "reconstruction (-log p(x|z))",
                              "KL(q(z|x) || p(z))")):
        ax.plot(epochs, history[f"train_{key}"], "o-", label="train")
        if history.get(f"test_{key}"):
            ax.plot(epochs, history[f"test_{key}"], "s--", label="test")
        if start > 0 and key != "kl":
            later = history[f"train_{key}"][start:] + (history.get(f"test_{key}") or [])[start:]
            pad = 0.05 * (max(later) - min(later) + 1e-9)
            ax.set_ylim(min(later) - pad, max(later) + pad)
            name += f"\n(y-axis from epoch {start + 1})"
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per image")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if title:
        fig.suptitle(title, y=1.03)
    return fig


def confusion_heatmap(confusion: np.ndarray, title: str):
    """A (10, 10) confusion matrix as row-normalised shares with class names on both axes."""
    rates = confusion_shares(confusion)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(NUM_CLASSES), CLASS_NAMES)
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            if rates[i, j] >= 0.01:
                ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class (kNN vote)")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="share of the true class")
    fig.tight_layout()
    return fig


def bar_per_class(values, title: str, ylabel: str):
    """One bar per class (10 values) with class names under the bars."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.bar(range(NUM_CLASSES), values, color=CLASS_COLORS)
    ax.set_xticks(range(NUM_CLASSES), CLASS_NAMES, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
