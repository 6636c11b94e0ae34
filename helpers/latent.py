"""Working in latent space: encoding a dataset, 2-D maps, paths between codes, class directions.

Used by notebook 03 (encode, KL per dimension, PCA, t-SNE, the 2-D manifold) and notebook 04
(lerp, slerp, class means, traversals).
Codes are float32 tensors (N, latent_dim) on the CPU unless said otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import NUM_CLASSES


@dataclass
class EncodedSet:
    """Latent codes of a whole dataset.

    mu, logvar: float32 (N, latent_dim) on the CPU; labels: long (N,) in 0..9.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    labels: torch.Tensor


@torch.no_grad()
def encode_dataset(model, x: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> EncodedSet:
    """Encode x (N, 1, 28, 28) in [-1, 1] in batches -> EncodedSet of posterior means and log-variances.

    A conditional model is given the class ids ``labels`` too; the others (notebook 02's own
    ConvVAE included) only the images.
    """
    device = next(model.parameters()).device
    conditional = getattr(model, "conditional", False)
    mus, logvars = [], []
    for xb, yb in zip(x.split(batch_size), labels.split(batch_size)):
        mu, logvar = model.encode(xb.to(device), yb.to(device)) if conditional else model.encode(xb.to(device))
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return EncodedSet(torch.cat(mus), torch.cat(logvars), labels.cpu().long())


@dataclass
class PCAMap:
    """A fitted PCA: ``project(z)`` maps codes (N, D) to (N, k); ``explained`` = variance shares (k,)."""

    mean: torch.Tensor
    components: torch.Tensor  # (k, D), orthonormal rows
    explained: np.ndarray

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) @ self.components.T


def fit_pca(z: torch.Tensor, k: int = 2) -> PCAMap:
    """PCA of codes z (N, D) keeping k <= D components (SVD of the centred codes)."""
    z = z.double()
    mean = z.mean(0)
    _, s, vt = torch.linalg.svd(z - mean, full_matrices=False)
    var = s.pow(2)
    k = min(k, vt.shape[0])
    comps = vt[:k]
    # fix each component's sign so the result does not depend on the SVD routine
    signs = torch.sign(comps[torch.arange(k), comps.abs().argmax(1)])
    comps = comps * signs[:, None]
    return PCAMap(mean.float(), comps.float(), (var[:k] / var.sum()).numpy())


def tsne_2d(z: torch.Tensor, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """t-SNE of codes z (N, D) -> (N, 2) numpy array (scikit-learn, PCA initialisation).

    Takes about 25 s for 10,000 codes on a fast 2-core CPU (about 2 min on a slow one).
    """
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(z) - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto", n_jobs=-1)
    return tsne.fit_transform(z.double().numpy()).astype(np.float32)


def lerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Linear interpolation: z0, z1 (D,) -> (steps, D) from z0 (t=0) to z1 (t=1)."""
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation: z0, z1 (D,) -> (steps, D) along the great circle between them.

    The angle is measured between the directions of z0 and z1; the norm is interpolated
    linearly, so the endpoints are exactly z0 and z1 and midpoints keep a typical norm under
    the N(0, I) prior (a straight line cuts through the low-norm, rarely-seen centre).
    Falls back to lerp when z0 and z1 point the same way.
    """
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype).unsqueeze(1)
    n0, n1 = z0.norm(), z1.norm()
    u0, u1 = z0 / n0.clamp_min(1e-12), z1 / n1.clamp_min(1e-12)
    omega = torch.arccos((u0 * u1).sum().clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:
        return lerp(z0, z1, steps)
    dirs = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return dirs * ((1 - t) * n0 + t * n1)


def class_means(codes: EncodedSet, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Mean code of each class 0..num_classes-1: (num_classes, latent_dim) (10 for Fashion-MNIST)."""
    return torch.stack([codes.mu[codes.labels == c].mean(0) for c in range(num_classes)])


def kl_per_dim(codes: EncodedSet) -> torch.Tensor:
    """Mean KL(q(z_u|x) || N(0, 1)) of each latent dimension u over the codes: (latent_dim,) nats.

    The per-dimension terms of the KL in the VAE loss, 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2),
    averaged over the items; they sum to the mean KL per image. A dimension near 0 is unused.
    """
    return 0.5 * (codes.mu.pow(2) + codes.logvar.exp() - 1 - codes.logvar).mean(0)


def traversal_codes(z0: torch.Tensor, dims, offsets: torch.Tensor) -> torch.Tensor:
    """Codes for a latent traversal grid: one row per dimension in ``dims``, one column per offset.

    z0: (D,) the starting code; dims: R dimension indices; offsets: (C,) the same for every row, or
    (R, C) one set per row. Returns (R * C, D), row-major: row r is z0 with dimension dims[r]
    moved by offsets[r, c]; every other coordinate keeps z0's value.
    """
    dims = torch.as_tensor(dims, dtype=torch.long)
    offsets = torch.as_tensor(offsets, dtype=z0.dtype)
    if offsets.dim() == 1:
        offsets = offsets.expand(len(dims), -1)
    if offsets.shape[0] != len(dims):
        raise ValueError(f"offsets has {offsets.shape[0]} rows for {len(dims)} dims")
    rows, cols = offsets.shape
    z = z0.expand(rows, cols, -1).clone()
    z[torch.arange(rows), :, dims] += offsets
    return z.reshape(rows * cols, -1)


def manifold_grid(mu: torch.Tensor, n: int = 15, coverage: float = 0.98):
    """An n x n grid over the central ``coverage`` of 2-D codes ``mu`` (N, 2), for the classic
    "decoded manifold" of a 2-D VAE.

    Each axis runs evenly from the (1 - coverage) / 2 to the (1 + coverage) / 2 quantile of the
    codes on that axis (from their 1st to 99th percentile by default). Returns (grid, z1, z2):
    grid (n*n, 2) row-major, z1 (n,) rising along each row, z2 (n,) falling down the rows.
    """
    lo = mu.quantile((1 - coverage) / 2, dim=0)
    hi = mu.quantile((1 + coverage) / 2, dim=0)
    z1, z2 = torch.linspace(lo[0], hi[0], n), torch.linspace(hi[1], lo[1], n)
    grid = torch.stack(torch.meshgrid(z1, z2, indexing="xy"), dim=-1).reshape(-1, 2)
    return grid, z1, z2
