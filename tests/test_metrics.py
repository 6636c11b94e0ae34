"""Latent-space structure (kNN, confusion, silhouette, linear probe, active units), reconstructions
judged by a classifier, and evaluate_model's wiring of every figure. Likelihood and sample quality
have their own files (test_likelihood.py, test_sample_quality.py)."""

import numpy as np
import pytest
import torch
from torch import nn

from conftest import tiny_model
from helpers.data import CLASS_NAMES
from helpers.latent import EncodedSet, encode_dataset
from helpers.evaluation import (evaluate_model, importance_weighted_ll, judge_accuracies, reconstruct,
                                reconstruction_mse)
from helpers.metrics import active_units, class_separation, confusion_shares, knn_predict, linear_probe_accuracy
from helpers.model import LatentMixture


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
    assert sep.predictions.tolist() == torch.arange(10).repeat_interleave(10).tolist()
    assert sep.silhouette > 0.95


def test_silhouette_on_two_known_clusters():
    """Two classes of 2 points each on a line at 0, 1 and 10, 11: a point's own-class distance a = 1,
    the other class's mean distance b = 10 (from 0: 10 and 11 -> 10.5; from 1: 9, 10 -> 9.5), so
    s = (b - a) / b per point: (9.5/10.5 + 8.5/9.5) * 2 / 4."""
    codes = EncodedSet(torch.tensor([[0.0], [1.0], [10.0], [11.0]]), torch.zeros(4, 1), torch.tensor([0, 0, 1, 1]))
    sep = class_separation(codes, codes, k=1, silhouette_sample=None)
    assert sep.silhouette == pytest.approx((9.5 / 10.5 + 8.5 / 9.5) / 2)
    # labels crossing the clusters: own class 10 away, the other 5 or 6 on average: s = -0.5 or -0.4
    mixed = EncodedSet(codes.mu, codes.logvar, torch.tensor([0, 1, 0, 1]))
    assert class_separation(codes, mixed, k=1, silhouette_sample=None).silhouette == pytest.approx(-0.45)


def test_knn_vote_and_confusion_on_a_known_case():
    train = EncodedSet(torch.tensor([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]), torch.zeros(6, 1),
                       torch.tensor([0, 0, 0, 1, 1, 1]))
    test = EncodedSet(torch.tensor([[0.05], [4.9], [0.15], [5.05]]), torch.zeros(4, 1),
                      torch.tensor([0, 1, 1, 0]))
    assert knn_predict(train.mu, train.labels, test.mu, k=3).tolist() == [0, 1, 0, 1]
    sep = class_separation(train, test, k=3)
    assert sep.predictions.tolist() == [0, 1, 0, 1]
    assert sep.knn_accuracy == 0.5
    assert sep.confusion[:2, :2].tolist() == [[1, 1], [1, 1]]
    pairs = sep.most_confused(top=2)
    assert {(p[0], p[1]) for p in pairs} == {(CLASS_NAMES[0], CLASS_NAMES[1]), (CLASS_NAMES[1], CLASS_NAMES[0])}
    assert pairs[0][2] == 0.5


def test_confusion_shares_normalise_each_true_class():
    conf = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    assert confusion_shares(conf).tolist() == [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]]


def test_active_units_counts_dimensions_whose_mean_varies():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5000, 4, generator=g) * torch.tensor([1.0, 0.5, 0.03, 0.0])
    assert active_units(EncodedSet(mu, torch.zeros_like(mu), torch.zeros(5000).long())) == 2


def test_linear_probe_on_separable_codes():
    assert linear_probe_accuracy(_clusters(30, 0.1, 0), _clusters(10, 0.1, 1)) == 1.0


def test_linear_probe_on_codes_that_carry_no_class():
    """Codes drawn independently of the labels: a probe can only guess (10 classes -> about 0.1)."""
    g = torch.Generator().manual_seed(0)
    train, test = (EncodedSet(torch.randn(n, 4, generator=g), torch.zeros(n, 4), torch.arange(n) % 10)
                   for n in (2000, 2000))
    assert linear_probe_accuracy(train, test) == pytest.approx(0.1, abs=0.04)


# -- reconstructions, judged ------------------------------------------------------------------

class Copy(nn.Module):
    """A perfect autoencoder: the code is the image itself. (A stub of the VAE interface.)"""

    conditional = False

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def encode(self, x, y=None):
        return x.flatten(1), torch.zeros_like(x.flatten(1))

    def decode(self, z, y=None):
        return z.view(-1, 1, 28, 28)


class Blank(Copy):
    """Reconstructs every image as mid-grey (0 on the [-1, 1] scale)."""

    def decode(self, z, y=None):
        return torch.zeros(len(z), 1, 28, 28)


class BrightnessJudge:
    """Classifies an image by its mean pixel: class c <-> brightness -1 + 2c / 9."""

    def predict(self, x):
        return torch.round((x.flatten(1).mean(1) + 1) * 4.5).long()


def _brightness_classes(per_class=7):
    y = torch.arange(10).repeat(per_class)
    return (-1 + 2 * y.float() / 9).view(-1, 1, 1, 1).expand(-1, 1, 28, 28).clone(), y


def test_judge_accuracies_on_originals_and_reconstructions():
    x, y = _brightness_classes()
    judge = BrightnessJudge()
    assert judge_accuracies(judge, Copy(), x, y) == {"originals": 1.0, "reconstructions": 1.0}
    # mid-grey is judged class 4 (round(4.5) = 4), so only class 4 keeps its class
    assert judge_accuracies(judge, Blank(), x, y) == {"originals": 1.0, "reconstructions": pytest.approx(0.1)}


def test_reconstruction_mse_on_the_pixel_scale():
    x, y = _brightness_classes()
    assert reconstruction_mse(Copy(), x, y) == 0.0
    # a grey 0.5 on the [0, 1] scale against class c's pixel value c / 9: mean of (c/9 - 1/2)^2
    want = np.mean([(c / 9 - 0.5) ** 2 for c in range(10)])
    assert reconstruction_mse(Blank(), x, y) == pytest.approx(want, rel=1e-6)


def test_reconstruct_batches_give_the_same_images_as_one_pass():
    model = tiny_model(conditional=True)
    x, y = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1, torch.arange(7)
    with torch.no_grad():
        whole = model.decode(model.encode(x, y)[0], y)
    assert torch.allclose(reconstruct(model, x, y, batch_size=3), whole, atol=1e-6)


# -- every figure at once ---------------------------------------------------------------------

class TurnJudge:
    """Predicts classes 0..9 in turn (the order the labels below and the asked samples come in)."""

    def features(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([m, m ** 2, x.flatten(1)[:, :1]], 1)

    def predict(self, x):
        return torch.arange(len(x)) % 10


def _evaluated(model, **kw):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(60, 1, 28, 28, generator=g) * 2 - 1, torch.arange(60) % 10
    out = evaluate_model(model, x, y, x[:30], y[:30], TurnJudge(), iw_k=4, iw_items=10, n_samples=40, **kw)
    return out, x, y


@pytest.mark.parametrize("conditional", [False, True])
def test_evaluate_model_reports_each_figure_from_its_own_metric(conditional):
    model = tiny_model(conditional=conditional)
    out, x, y = _evaluated(model)
    assert set(out) == {"test_neg_elbo", "test_recon", "test_kl", "iw_log_likelihood", "iw_k", "iw_items",
                        "active_units", "knn_accuracy", "linear_probe_accuracy", "silhouette", "recon_mse",
                        "class_kept", "frechet_distance"} | ({"class_match"} if conditional else set())
    assert out["test_neg_elbo"] == pytest.approx(out["test_recon"] + out["test_kl"])
    assert out["iw_k"] == 4 and out["iw_items"] == 10
    assert out["iw_log_likelihood"] == importance_weighted_ll(model, x[:10], y[:10], k=4)
    train, test = encode_dataset(model, x, y), encode_dataset(model, x[:30], y[:30])
    sep = class_separation(train, test, k=5)
    assert (out["knn_accuracy"], out["silhouette"]) == (sep.knn_accuracy, sep.silhouette)
    assert out["linear_probe_accuracy"] == linear_probe_accuracy(train, test)
    assert out["active_units"] == active_units(test)
    assert out["recon_mse"] == reconstruction_mse(model, x[:30], y[:30])
    assert out["class_kept"] == 1.0  # the turn judge is right on every reconstruction of these labels
    if conditional:
        assert out["class_match"] == 1.0


def test_evaluate_model_adds_prior_figures_when_a_sampler_is_fitted():
    model = tiny_model(conditional=True)
    model.sampler = LatentMixture(torch.ones(10, 1), torch.full((10, 1, 4), 3.0), torch.eye(4).expand(10, 1, 4, 4))
    out, _, _ = _evaluated(model, by_class=True)
    no_sampler, _, _ = _evaluated(tiny_model(conditional=True), by_class=True)
    assert out["class_match_prior"] == 1.0 and out["class_match_by_class"] == [1.0] * 10
    assert out["class_match_by_class_prior"] == [1.0] * 10
    # the prior figures are the figures of the same model without its sampler; the sampler's differ
    assert out["frechet_distance_prior"] == no_sampler["frechet_distance"]
    assert out["frechet_distance"] != out["frechet_distance_prior"]
