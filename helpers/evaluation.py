"""Numbers that evaluate a whole model: likelihood, reconstructions, samples (notebook 05, the
README's results table, tools/evaluate_checkpoint.py and the study of tools/run_study.py).
Every figure is computed from data.

* likelihood: the test ELBO (helpers.train.elbo_terms) and an importance-weighted estimate of
  log p(x) with K samples of q(z|x) (Burda et al. 2016), in the model's own likelihood
* reconstructions: mean squared error, and whether the judge classifier still sees the class
* sample quality: a Frechet distance between the judge classifier's features of samples and of
  test images, and for conditional models the share of samples judged to be the asked class
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import numpy as np
import torch

from .data import NUM_CLASSES
from .latent import encode_dataset
from .metrics import active_units, class_separation, linear_probe_accuracy
from .image_vae import bernoulli_nll
from .train import elbo_terms
from .vae import gaussian_nll


def _batches(x: torch.Tensor, y: torch.Tensor | None, batch_size: int, device):
    """(x, y) in batches of ``batch_size`` on ``device``; y None (the plain VAE needs no labels)
    gives None beside every batch."""
    ys = itertools.repeat(None) if y is None else y.split(batch_size)
    for xb, yb in zip(x.split(batch_size), ys):
        yield xb.to(device), (None if yb is None else yb.to(device))


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """Deterministic reconstructions decode(mu(x)): (N, 1, 28, 28) in [-1, 1] on the CPU.

    y: class ids (N,); a conditional model needs them, the plain VAE ignores them."""
    out = []
    for xb, yb in _batches(x, y, batch_size, next(model.parameters()).device):
        mu, _ = model.encode(xb, yb)
        out.append(model.decode(mu, yb).cpu())
    return torch.cat(out)


def judge_accuracies(judge, model, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Does a reconstruction keep its class? The judge classifier's accuracy against the true
    labels y (N,) on the originals x and on their reconstructions decode(mu(x)):
    {"originals": float, "reconstructions": float}."""
    recon = reconstruct(model, x, y)
    return {"originals": float((judge.predict(x) == y).float().mean()),
            "reconstructions": float((judge.predict(recon) == y).float().mean())}


def reconstruction_mse(model, x: torch.Tensor, y: torch.Tensor | None = None) -> float:
    """Mean squared error per pixel of decode(mu(x)) against x, on the [0, 1] pixel scale."""
    return float((((reconstruct(model, x, y) - x) / 2) ** 2).mean())


def reconstruction_nll(model, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """-log p(x|z) per item, (N,) nats, in the model's own likelihood (the reconstruction term of
    notebook 02's loss): Gaussian N(x; decode(z), sigma^2 I), or Bernoulli with logits decode_raw(z)."""
    if model.likelihood == "gaussian":
        return gaussian_nll(model.decode(z, y), x, model.log_sigma)
    return bernoulli_nll(model.decode_raw(z, y), x)


@torch.no_grad()
def importance_weighted_ll(model, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 100,
                           batch_size: int = 20, seed: int = 0) -> float:
    """Estimate of the mean log p(x) in nats per item with K importance samples from q(z|x):

        log p(x) ~ logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K,  z_k ~ q(z|x)

    A lower bound that tightens as K grows (K = 1 is the ELBO). The prior is N(prior_mean(n, y), I)
    (N(0, I) for the plain VAE). y: class ids (N,), needed by a conditional model only.
    """
    gen = torch.Generator().manual_seed(seed)
    log2pi = math.log(2 * math.pi)
    total = 0.0
    for xb, yb in _batches(x, y, batch_size, next(model.parameters()).device):
        mu, logvar = model.encode(xb, yb)
        b, d = mu.shape
        eps = torch.randn(b, k, d, generator=gen).to(mu.device)
        std = torch.exp(0.5 * logvar)
        z = mu[:, None] + std[:, None] * eps                                    # (b, K, D)
        log_q = (-0.5 * eps.pow(2) - torch.log(std)[:, None] - 0.5 * log2pi).sum(-1)
        log_pz = (-0.5 * (z - model.prior_mean(b, yb)[:, None]).pow(2) - 0.5 * log2pi).sum(-1)
        y_rep = None if yb is None else yb.repeat_interleave(k)
        log_px = -reconstruction_nll(model, z.reshape(b * k, d), xb.repeat_interleave(k, 0), y_rep).view(b, k)
        ll = torch.logsumexp(log_px + log_pz - log_q, dim=1) - math.log(k)
        total += float(ll.sum())
    return total / len(x)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, F):
    |m_a - m_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)). 0 for identical distributions."""
    from scipy import linalg

    a, b = np.asarray(feats_a, dtype=np.float64), np.asarray(feats_b, dtype=np.float64)
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(ca @ cb)
        if not np.isfinite(covmean).all():  # near-singular product: nudge the diagonals
            eye = np.eye(ca.shape[0]) * 1e-6
            covmean = linalg.sqrtm((ca + eye) @ (cb + eye))
    return float(((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * covmean.real))


@functools.lru_cache(maxsize=1)
def _reference_features(judge, test_x: torch.Tensor) -> np.ndarray:
    """The judge's features of the test images, extracted once per (judge, test set) object pair:
    ``sample_quality`` compares every model's and every sampler's samples with the same ones.
    (Keyed on the objects themselves, so neither may be changed in place between calls.)"""
    return judge.features(test_x).numpy()


@torch.no_grad()
def sample_quality(model, judge, test_x: torch.Tensor, n: int = 10000, seed: int = 0,
                   from_prior: bool = False, by_class: bool = False) -> dict:
    """Judge n samples of the model (``model.sample``; ``from_prior=True``: prior draws even if
    the model has a fitted sampler) with the judge classifier.

    Returns {"frechet_distance"} between judge features of the samples and of ``test_x``
    (extracted once per judge and test set, then reused), and for a conditional model (asked
    classes 0..9 in turn) {"class_match"}: the share of samples the judge assigns to the
    asked class (``by_class=True``: also {"class_match_by_class"}, a list of 10 shares, one per
    asked class). The plain VAE is asked the same classes and ignores them.
    """
    gen = torch.Generator().manual_seed(seed)
    asked = torch.arange(n) % NUM_CLASSES
    samples = torch.cat([model.sample(len(yb), yb, generator=gen, from_prior=from_prior).cpu()
                         for yb in asked.split(1000)])
    out = {"frechet_distance": frechet_distance(judge.features(samples).numpy(),
                                                _reference_features(judge, test_x))}
    if model.conditional:
        hit = (judge.predict(samples) == asked).float()
        out["class_match"] = float(hit.mean())
        if by_class:
            out["class_match_by_class"] = [float(hit[asked == c].mean()) for c in range(NUM_CLASSES)]
    return out


def evaluate_model(model, train_x, train_y, test_x, test_y, judge, *, iw_k: int = 100,
                   iw_items: int | None = None, n_samples: int = 10000, seed: int = 0,
                   by_class: bool = False) -> dict:
    """Every figure of the README's results table and of the study, as one flat dict.

    iw_items: estimate log p(x) on the first ``iw_items`` test images only (all when None).
    Sample figures are for ``model.sample``; a model with a fitted sampler also gets them for
    prior draws, under keys ending in ``_prior``. by_class: a conditional model also gets
    ``class_match_by_class`` (a list of 10 shares; the one value that is not a number).
    """
    elbo = elbo_terms(model, test_x, test_y)
    tr = encode_dataset(model, train_x, train_y)
    te = encode_dataset(model, test_x, test_y)
    sep = class_separation(tr, te, k=5, seed=seed)
    n_iw = len(test_x) if iw_items is None else min(iw_items, len(test_x))
    out = {
        "test_neg_elbo": elbo["loss"], "test_recon": elbo["recon"], "test_kl": elbo["kl"],
        "iw_log_likelihood": importance_weighted_ll(model, test_x[:n_iw], test_y[:n_iw], k=iw_k, seed=seed),
        "iw_k": iw_k, "iw_items": n_iw,
        "active_units": active_units(te), "knn_accuracy": sep.knn_accuracy,
        "linear_probe_accuracy": linear_probe_accuracy(tr, te, seed=seed), "silhouette": sep.silhouette,
        "recon_mse": reconstruction_mse(model, test_x, test_y),
        "class_kept": judge_accuracies(judge, model, test_x, test_y)["reconstructions"],
    }
    out.update(sample_quality(model, judge, test_x, n=n_samples, seed=seed, by_class=by_class))
    if model.sampler is not None:
        prior = sample_quality(model, judge, test_x, n=n_samples, seed=seed, from_prior=True,
                               by_class=by_class)
        out.update({f"{k}_prior": v for k, v in prior.items()})
    return out
