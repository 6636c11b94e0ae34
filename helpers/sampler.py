"""A better sampler than the prior: a Gaussian mixture fitted to the training codes (notebook 05).

A VAE's prior N(0, I) and the codes its encoder actually uses (the aggregate posterior
q(z) = mean over the data of q(z|x)) never match exactly; prior draws that land between the
regions the decoder was trained on decode to blurry in-between images. Fitting a small mixture to
the training codes after training and drawing from it ("ex-post density estimation", Ghosh et al.
2020) keeps samples where the decoder is good. ``model.sampler = fit_latent_mixture(...)`` makes
``model.sample`` draw from it; ``save_checkpoint`` stores it.
"""

from __future__ import annotations

import torch
from sklearn.mixture import GaussianMixture

from .data import NUM_CLASSES

#: mixture components per group: 10 for the one group of an unconditional model (about one per
#: garment kind), 4 per class for a conditional model
SAMPLER_COMPONENTS = {False: 10, True: 4}


class LatentMixture:
    """Gaussian mixtures over latent codes, one per group.

    groups G: 1 for an unconditional model, 10 (one mixture per class) for a conditional one;
    K components each. weights (G, K) sum to 1 per group; means (G, K, D); scale_tril (G, K, D, D)
    lower-triangular Cholesky factors of the covariances.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor):
        self.weights = weights.double()
        self.means = means.float()
        self.scale_tril = scale_tril.float()
        g, k, d = self.means.shape
        if self.weights.shape != (g, k) or self.scale_tril.shape != (g, k, d, d):
            raise ValueError(f"mixture shapes do not agree: weights {tuple(self.weights.shape)}, "
                             f"means {tuple(self.means.shape)}, scale_tril {tuple(self.scale_tril.shape)}")
        if not torch.allclose(self.weights.sum(1), torch.ones(g, dtype=torch.float64), atol=1e-4):
            raise ValueError("mixture weights must sum to 1 in every group")

    @property
    def groups(self) -> int:
        return self.means.shape[0]

    @property
    def components(self) -> int:
        return self.means.shape[1]

    @property
    def latent_dim(self) -> int:
        return self.means.shape[2]

    def fits(self, latent_dim: int, conditional: bool) -> bool:
        """Whether this mixture can serve a model of that latent size and kind (10 groups for a
        conditional model, 1 otherwise)."""
        return self.latent_dim == latent_dim and self.groups == (NUM_CLASSES if conditional else 1)

    def draw(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n codes (n, D) on the CPU; y: long (n,) group (class) of each, None for group 0."""
        groups = torch.zeros(n, dtype=torch.long) if y is None else torch.as_tensor(y).long().cpu().reshape(-1)
        if len(groups) != n or groups.min() < 0 or groups.max() >= self.groups:
            raise ValueError(f"need {n} group ids in 0..{self.groups - 1}, got {groups.tolist()[:10]}")
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        cum = self.weights.cumsum(1)[groups]  # (n, K)
        comp = (u[:, None] > cum).sum(1).clamp_max(self.components - 1)
        eps = torch.randn(n, self.latent_dim, generator=generator)
        mean = self.means[groups, comp]
        return mean + (self.scale_tril[groups, comp] @ eps.unsqueeze(2)).squeeze(2)

    def state(self) -> dict:
        """Plain tensors for a checkpoint."""
        return {"weights": self.weights.clone(), "means": self.means.clone(), "scale_tril": self.scale_tril.clone()}

    @classmethod
    def from_state(cls, state: dict) -> "LatentMixture":
        return cls(state["weights"], state["means"], state["scale_tril"])


def fit_latent_mixture(codes, conditional: bool, components: int | None = None, seed: int = 0) -> LatentMixture:
    """Fit the sampler: Gaussian mixtures over the training codes.

    codes: ``helpers.latent.encode_dataset`` of the training set (mu, logvar (N, D), labels (N,)).
    Unconditional: one mixture of ``components`` full-covariance Gaussians (default 10) over all
    posterior means mu; conditional: one mixture (default 4 components) per class over that
    class's mu, so ``sample(n, y)`` stays in class y. Each component's covariance also gets the
    group's mean posterior variance on its diagonal, so the mixture approximates the aggregate
    posterior q(z) = mean_x q(z|x), not just its centres.
    """
    k = SAMPLER_COMPONENTS[bool(conditional)] if components is None else components
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"components={components!r} is not allowed: use a whole number >= 1")
    groups = ([codes.labels == c for c in range(NUM_CLASSES)] if conditional
              else [torch.ones(len(codes.mu), dtype=torch.bool)])
    weights, means, trils = [], [], []
    for mask in groups:
        mu = codes.mu[mask].double()
        if len(mu) < k:
            raise ValueError(f"{len(mu)} codes cannot fit {k} mixture components: encode more training images")
        gm = GaussianMixture(k, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(mu.numpy())
        cov = torch.from_numpy(gm.covariances_) + torch.diag(codes.logvar[mask].double().exp().mean(0))
        weights.append(torch.from_numpy(gm.weights_))
        means.append(torch.from_numpy(gm.means_))
        trils.append(torch.linalg.cholesky(cov))
    w = torch.stack(weights)
    return LatentMixture(w / w.sum(1, keepdim=True), torch.stack(means), torch.stack(trils))
