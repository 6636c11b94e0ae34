import numpy as np
import torch

from helpers.data import CLASS_NAMES
from helpers.latent import EncodedSet
from helpers.metrics import class_separation, knn_predict


def _clusters(n_per_class, spread, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(10) * 10
    labels = torch.arange(10).repeat_interleave(n_per_class)
    mu = centres[labels] + spread * torch.randn(len(labels), 10, generator=g)
    return EncodedSet(mu, torch.zeros_like(mu), labels)


def test_well_separated_clusters_score_perfectly():
    sep = class_separation(_clusters(30, 0.1, 0), _clusters(10, 0.1, 1), k=5)
    assert sep.knn_accuracy == 1.0
    assert np.array_equal(sep.confusion, np.eye(10, dtype=int) * 10)
    assert sep.per_class_accuracy.tolist() == [1.0] * 10
    assert sep.silhouette > 0.95


def test_knn_vote_and_confusion_on_a_known_case():
    train = EncodedSet(torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]), torch.zeros(6, 1),
                       torch.tensor([0, 0, 0, 1, 1, 1]))
    test = EncodedSet(torch.tensor([[0.05], [4.9], [0.15], [5.05]]), torch.zeros(4, 1),
                      torch.tensor([0, 1, 1, 0]))
    assert knn_predict(train.mu, train.labels, test.mu, k=3).tolist() == [0, 1, 0, 1]
    sep = class_separation(train, test, k=3)
    assert sep.knn_accuracy == 0.5
    assert sep.confusion[:2, :2].tolist() == [[1, 1], [1, 1]]
    pairs = sep.most_confused(top=2)
    assert {(p[0], p[1]) for p in pairs} == {(CLASS_NAMES[0], CLASS_NAMES[1]), (CLASS_NAMES[1], CLASS_NAMES[0])}
    assert pairs[0][2] == 0.5


# -- likelihood, active units, probes, sample quality ------------------------------------------
import math  # noqa: E402

import pytest  # noqa: E402
from torch import nn  # noqa: E402

from conftest import tiny_model  # noqa: E402
from helpers.metrics import (active_units, evaluate_model, frechet_distance, importance_weighted_ll,  # noqa: E402
                             linear_probe_accuracy, reconstruction_mse, reconstruct, sample_quality)
from helpers.model import LatentMixture, gaussian_nll  # noqa: E402


class LinearGaussian(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I), so log p(x) = log N(x; b, W W^T + s^2 I) exactly.

    W has orthogonal columns, so the exact posterior is diagonal; q(z|x) is that posterior with
    its variance multiplied by ``inflate`` (1: q is exact)."""

    conditional = False

    def __init__(self, inflate: float = 1.0):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        w, _ = torch.linalg.qr(torch.randn(3, 2, generator=g, dtype=torch.float64))
        self.W = nn.Parameter(w * torch.tensor([1.5, 0.7], dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(3, generator=g, dtype=torch.float64))
        self.log_s = nn.Parameter(torch.tensor(math.log(0.5), dtype=torch.float64))
        self.inflate = inflate

    def encode(self, x):
        s2 = torch.exp(2 * self.log_s)
        var = 1.0 / (1.0 + (self.W ** 2).sum(0) / s2)  # diagonal because W^T W is diagonal
        mu = (x - self.b) @ self.W * var / s2
        return mu, torch.log(var * self.inflate).expand_as(mu)

    def decode_logits(self, z):
        return z @ self.W.T + self.b

    def reconstruction_nll(self, raw, x):
        return gaussian_nll(raw, x, self.log_s)

    def exact_log_px(self, x):
        cov = self.W @ self.W.T + torch.exp(2 * self.log_s) * torch.eye(3, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)


def test_importance_weighted_ll_is_exact_with_the_true_posterior():
    model = LinearGaussian(inflate=1.0)
    x = torch.randn(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + model.b.detach()
    exact = model.exact_log_px(x).mean().item()
    with torch.no_grad():
        assert importance_weighted_ll(model, x, k=3) == pytest.approx(exact, abs=1e-8)


def test_importance_weighted_ll_tightens_toward_the_exact_value_as_k_grows():
    model = LinearGaussian(inflate=3.0)
    x = torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + model.b.detach()
    exact = model.exact_log_px(x).mean().item()
    with torch.no_grad():
        k1, k10, k1000 = (importance_weighted_ll(model, x, k=k, seed=0) for k in (1, 10, 1000))
    assert k1 < k10 < k1000 <= exact + 0.01
    assert k1000 == pytest.approx(exact, abs=0.02)
    assert exact - k1 > 0.1  # the ELBO is visibly loose with this q


def test_frechet_distance_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200000, 2, generator=g) * torch.tensor([1.0, 2.0])
    b = torch.randn(200000, 2, generator=g) * torch.tensor([2.0, 1.0]) + torch.tensor([1.0, 0.0])
    # |m_a - m_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2 = 1 + 1 + 1
    assert frechet_distance(a.numpy(), b.numpy()) == pytest.approx(3.0, abs=0.05)
    assert frechet_distance(a.numpy(), a.numpy()) == pytest.approx(0.0, abs=1e-6)


def test_active_units_counts_dimensions_whose_mean_varies():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5000, 4, generator=g) * torch.tensor([1.0, 0.5, 0.03, 0.0])
    assert active_units(EncodedSet(mu, torch.zeros_like(mu), torch.zeros(5000).long())) == 2


def test_linear_probe_on_separable_codes():
    assert linear_probe_accuracy(_clusters(30, 0.1, 0), _clusters(10, 0.1, 1)) == 1.0


def test_reconstruction_mse_on_the_pixel_scale():
    model = tiny_model()
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    want = (((reconstruct(model, x) + 1) / 2 - (x + 1) / 2) ** 2).mean().item()
    assert reconstruction_mse(model, x) == pytest.approx(want, rel=1e-6)


class StubJudge:
    """Features = mean pixel and its square; predicts classes 0..9 in turn (the order samples are asked)."""

    def features(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([m, m ** 2, x.flatten(1)[:, :1]], 1)

    def predict(self, x):
        return torch.arange(len(x)) % 10


def test_sample_quality_asks_classes_in_turn_and_compares_features():
    model = tiny_model(conditional=True)
    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = sample_quality(model, StubJudge(), x, n=250)
    assert q["class_match"] == 1.0 and q["frechet_distance"] > 0
    assert set(sample_quality(tiny_model(), StubJudge(), x, n=50)) == {"frechet_distance"}


def test_sample_quality_per_class_and_prior_draws():
    class FirstThree(StubJudge):
        def predict(self, x):  # right for the first three of every ten asked classes only
            return torch.where(torch.arange(len(x)) % 10 < 3, torch.arange(len(x)) % 10, torch.tensor(9))

    model = tiny_model(conditional=True)
    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    q = sample_quality(model, FirstThree(), x, n=200, by_class=True)
    assert q["class_match_by_class"] == [1.0, 1.0, 1.0] + [0.0] * 6 + [1.0]
    assert q["class_match"] == pytest.approx(0.4)
    # prior draws differ from draws of a fitted (here: point) mixture, so their distances differ
    model.sampler = LatentMixture(torch.ones(10, 1), torch.full((10, 1, 4), 5.0), torch.zeros(10, 1, 4, 4))
    fitted = sample_quality(model, StubJudge(), x, n=100)["frechet_distance"]
    prior = sample_quality(model, StubJudge(), x, n=100, from_prior=True)["frechet_distance"]
    assert prior == sample_quality(tiny_model(conditional=True), StubJudge(), x, n=100)["frechet_distance"]
    assert fitted != prior


def test_evaluate_model_reports_every_figure():
    model = tiny_model(conditional=True)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(60, 1, 28, 28, generator=g) * 2 - 1, torch.arange(60) % 10
    out = evaluate_model(model, x, y, x[:30], y[:30], StubJudge(), iw_k=4, iw_items=10, n_samples=40)
    assert set(out) == {"test_neg_elbo", "test_recon", "test_kl", "iw_log_likelihood", "iw_k", "iw_items",
                        "active_units", "knn_accuracy", "linear_probe_accuracy", "silhouette", "recon_mse",
                        "class_kept", "frechet_distance", "class_match"}
    assert out["iw_k"] == 4 and out["iw_items"] == 10 and out["class_match"] == 1.0
    assert all(math.isfinite(v) for v in out.values())
    for key in ("knn_accuracy", "linear_probe_accuracy", "class_kept"):
        assert 0.0 <= out[key] <= 1.0
    assert 0 <= out["active_units"] <= 4 and out["recon_mse"] > 0


def test_evaluate_model_adds_prior_figures_when_a_sampler_is_fitted():
    model = tiny_model(conditional=True)
    model.sampler = LatentMixture(torch.ones(10, 1), torch.zeros(10, 1, 4), torch.eye(4).expand(10, 1, 4, 4))
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(60, 1, 28, 28, generator=g) * 2 - 1, torch.arange(60) % 10
    out = evaluate_model(model, x, y, x[:30], y[:30], StubJudge(), iw_k=4, iw_items=10, n_samples=40)
    assert {"frechet_distance_prior", "class_match_prior"} <= set(out)
    assert out["class_match_prior"] == 1.0 and math.isfinite(out["frechet_distance_prior"])
    per_class = evaluate_model(model, x, y, x[:30], y[:30], StubJudge(), iw_k=4, iw_items=10, n_samples=40,
                               by_class=True)
    assert per_class["class_match_by_class"] == [1.0] * 10 == per_class["class_match_by_class_prior"]
