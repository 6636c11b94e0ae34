"""Measuring a latent space against known factors of variation (notebook 06, shapes64).

The **mutual information gap** (MIG, Chen et al. 2018): for each true factor v_k, the mutual
information I(z_j; v_k) with every latent dimension z_j; the gap between the dimension that knows
most about v_k and the runner-up, divided by the factor's entropy H(v_k), averaged over factors:

    MIG = 1/K * sum_k ( I(z_(1); v_k) - I(z_(2); v_k) ) / H(v_k)        in [0, 1]

1 means each factor is held by exactly one dimension that knows all of it; 0 means no dimension
knows more about any factor than some other dimension does. As in disentanglement_lib
(Locatello et al. 2019), I is estimated from the posterior means, each dimension cut into 20
equal-width bins; factors with more than 20 values (x and y of shapes64: 32) then cannot reach 1.
Everything here is plain NumPy on (N, D) codes and (N, K) integer factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MIG_BINS = 20


def discretize(codes, bins: int = MIG_BINS) -> np.ndarray:
    """Codes (N, D) -> bin ids (N, D) int: each dimension cut into ``bins`` equal-width bins over its range."""
    z = np.asarray(torch.as_tensor(codes, dtype=torch.float64))
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(f"codes must be (N, D) with N >= 2, got shape {z.shape}")
    out = np.empty(z.shape, dtype=np.int64)
    for j in range(z.shape[1]):
        lo, hi = z[:, j].min(), z[:, j].max()
        width = (hi - lo) / bins if hi > lo else 1.0
        out[:, j] = np.clip(((z[:, j] - lo) / width).astype(np.int64), 0, bins - 1)
    return out


def mutual_information(a, b) -> float:
    """I(a; b) in nats of two integer sequences (N,), from their joint histogram."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1))
    joint = joint.reshape(a.max() + 1, b.max() + 1) / len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def entropy(v) -> float:
    """H(v) in nats of an integer sequence (N,)."""
    _, counts = np.unique(np.asarray(v), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


@dataclass
class MIGResult:
    """mig: the score in [0, 1]; gaps: (K,) each factor's normalised gap; info: (D, K) I(z_j; v_k) in
    nats; entropies: (K,) H(v_k); best_dims: (K,) the dimension that knows most about each factor."""

    mig: float
    gaps: np.ndarray
    info: np.ndarray
    entropies: np.ndarray
    best_dims: np.ndarray


def mutual_information_gap(codes, factors, bins: int = MIG_BINS) -> MIGResult:
    """MIG of codes (N, D) (posterior means) against integer factors (N, K); needs D >= 2."""
    z = discretize(codes, bins)
    v = np.asarray(torch.as_tensor(factors)).astype(np.int64)
    if v.ndim != 2 or len(v) != len(z):
        raise ValueError(f"factors must be (N, K) with N = {len(z)} (one row per code), got shape {v.shape}")
    if z.shape[1] < 2:
        raise ValueError("MIG compares the two most informative dimensions: codes need at least 2 dimensions")
    info = np.array([[mutual_information(z[:, j], v[:, k]) for k in range(v.shape[1])] for j in range(z.shape[1])])
    h = np.array([entropy(v[:, k]) for k in range(v.shape[1])])
    top2 = -np.sort(-info, axis=0)[:2]
    gaps = np.where(h > 0, (top2[0] - top2[1]) / np.where(h > 0, h, 1.0), 0.0)
    return MIGResult(float(gaps.mean()), gaps, info, h, info.argmax(0))


def iou(reconstructions, originals, threshold: float = 0.0) -> torch.Tensor:
    """Intersection over union of binary masks, per image: (N, C, H, W) in [-1, 1] twice -> (N,).

    A pixel is "on" above ``threshold`` (0 = halfway between background -1 and ink +1). Two empty
    masks count as 1 (nothing to get wrong).
    """
    a, b = torch.as_tensor(reconstructions) > threshold, torch.as_tensor(originals) > threshold
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    inter = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
