"""The importance-weighted log p(x) estimate: exact on a model whose log p(x) is known in closed
form, and equal to a direct computation on the real models (both likelihoods, both priors)."""

import math

import pytest
import torch
from torch import nn

from helpers.evaluation import importance_weighted_ll
from helpers.model import ConditionalVAE, ImageVAE


class LinearGaussian(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I), so log p(x) = log N(x; b, W W^T + s^2 I) exactly.

    W has orthogonal columns, so the exact posterior is diagonal; q(z|x) is that posterior with
    its variance multiplied by ``inflate`` (1: q is exact). The same interface as the VAEs."""

    conditional = False
    likelihood = "gaussian"

    def __init__(self, inflate: float = 1.0):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        w, _ = torch.linalg.qr(torch.randn(3, 2, generator=g, dtype=torch.float64))
        self.W = nn.Parameter(w * torch.tensor([1.5, 0.7], dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(3, generator=g, dtype=torch.float64))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(0.5), dtype=torch.float64))
        self.inflate = inflate

    def encode(self, x, y=None):
        s2 = torch.exp(2 * self.log_sigma)
        var = 1.0 / (1.0 + (self.W ** 2).sum(0) / s2)  # diagonal because W^T W is diagonal
        mu = (x - self.b) @ self.W * var / s2
        return mu, torch.log(var * self.inflate).expand_as(mu)

    def decode(self, z, y=None):
        return z @ self.W.T + self.b

    def prior_mean(self, n, y=None):
        return torch.zeros(n, 2, dtype=torch.float64)

    def exact_log_px(self, x):
        cov = self.W @ self.W.T + torch.exp(2 * self.log_sigma) * torch.eye(3, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)


def test_importance_weighted_ll_is_exact_with_the_true_posterior():
    model = LinearGaussian(inflate=1.0)
    x = torch.randn(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + model.b.detach()
    exact = model.exact_log_px(x).mean().item()
    assert importance_weighted_ll(model, x, k=3) == pytest.approx(exact, abs=1e-8)


def test_importance_weighted_ll_tightens_toward_the_exact_value_as_k_grows():
    model = LinearGaussian(inflate=3.0)
    x = torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + model.b.detach()
    exact = model.exact_log_px(x).mean().item()
    k1, k10, k1000 = (importance_weighted_ll(model, x, k=k, seed=0) for k in (1, 10, 1000))
    assert k1 < k10 < k1000 <= exact + 0.01
    assert k1000 == pytest.approx(exact, abs=0.02)
    assert exact - k1 > 0.1  # the ELBO is visibly loose with this q


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("cls", [ImageVAE, ConditionalVAE])
def test_importance_weighted_ll_on_the_real_models_matches_a_direct_computation(cls, likelihood):
    """log p(x|z) in the model's own likelihood, the prior N(prior_mean(n, y), I) (m_y for the
    conditional VAE, given a non-zero m_y here), and q(z|x) = N(mu, sigma^2), written out with
    torch.distributions on the same draws (one batch of 12 items, K = 5)."""
    torch.manual_seed(0)
    model = cls(latent_dim=3, hidden=16, channels=(4, 8), likelihood=likelihood).eval()
    if model.conditional:
        model.prior_mu.data = torch.randn(10, 3)
    with torch.no_grad():
        model.dec_conv[-1].bias.fill_(0.3)
    g = torch.Generator().manual_seed(1)
    x, y, k = torch.rand(12, 1, 28, 28, generator=g) * 2 - 1, torch.arange(12) % 10, 5
    Normal = torch.distributions.Normal
    with torch.no_grad():
        mu, logvar = model.encode(x, y)
        eps = torch.randn(12, k, 3, generator=torch.Generator().manual_seed(7))
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps              # (12, K, 3)
        log_q = Normal(mu[:, None], torch.exp(0.5 * logvar)[:, None]).log_prob(z).sum(-1)
        log_pz = Normal(model.prior_mean(12, y)[:, None], 1.0).log_prob(z).sum(-1)
        raw = model.decode_raw(z.reshape(-1, 3), y.repeat_interleave(k)).view(12, k, -1)
        target = x.flatten(1)[:, None]
        if likelihood == "gaussian":
            log_px = Normal(2 * torch.sigmoid(raw) - 1, model.sigma()).log_prob(target).sum(-1)
        else:
            p01 = (target + 1) / 2
            log_px = (p01 * nn.functional.logsigmoid(raw) + (1 - p01) * nn.functional.logsigmoid(-raw)).sum(-1)
        want = (torch.logsumexp(log_px + log_pz - log_q, 1) - math.log(k)).mean().item()
    assert importance_weighted_ll(model, x, y, k=k, seed=7) == pytest.approx(want, rel=1e-5)
