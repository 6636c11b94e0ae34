"""Sample quality: the Frechet distance, and judging a model's samples with a (stub) judge."""

import pytest
import torch

from conftest import tiny_model
from helpers import evaluation
from helpers.evaluation import frechet_distance, sample_quality
from helpers.model import LatentMixture


def test_frechet_distance_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200000, 2, generator=g) * torch.tensor([1.0, 2.0])
    b = torch.randn(200000, 2, generator=g) * torch.tensor([2.0, 1.0]) + torch.tensor([1.0, 0.0])
    # |m_a - m_b|^2 + sum (sqrt(var_a) - sqrt(var_b))^2 = 1 + 1 + 1
    assert frechet_distance(a.numpy(), b.numpy()) == pytest.approx(3.0, abs=0.05)
    assert frechet_distance(a.numpy(), a.numpy()) == pytest.approx(0.0, abs=1e-6)


class StubJudge:
    """Features = mean pixel, its square and the first pixel; predicts classes 0..9 in turn (the
    order samples are asked). Counts the images it extracts features from."""

    def __init__(self):
        self.featurized = 0

    def features(self, x):
        self.featurized += len(x)
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([m, m ** 2, x.flatten(1)[:, :1]], 1)

    def predict(self, x):
        return torch.arange(len(x)) % 10


def _images(n, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_sample_quality_asks_classes_in_turn_and_compares_features():
    model = tiny_model(conditional=True)
    x = _images(300)
    q = sample_quality(model, StubJudge(), x, n=250)
    assert q["class_match"] == 1.0 and q["frechet_distance"] > 0
    # the plain VAE is asked the same classes, ignores them, and gets no class match
    assert set(sample_quality(tiny_model(), StubJudge(), x, n=50)) == {"frechet_distance"}


def test_sample_quality_per_class_and_prior_draws():
    class FirstThree(StubJudge):
        def predict(self, x):  # right for the first three of every ten asked classes only
            return torch.where(torch.arange(len(x)) % 10 < 3, torch.arange(len(x)) % 10, torch.tensor(9))

    model = tiny_model(conditional=True)
    x = _images(300)
    q = sample_quality(model, FirstThree(), x, n=200, by_class=True)
    assert q["class_match_by_class"] == [1.0, 1.0, 1.0] + [0.0] * 6 + [1.0]
    assert q["class_match"] == pytest.approx(0.4)
    # prior draws differ from draws of a fitted (here: point) mixture, so their distances differ
    model.sampler = LatentMixture(torch.ones(10, 1), torch.full((10, 1, 4), 5.0), torch.zeros(10, 1, 4, 4))
    judge = StubJudge()
    fitted = sample_quality(model, judge, x, n=100)["frechet_distance"]
    prior = sample_quality(model, judge, x, n=100, from_prior=True)["frechet_distance"]
    assert prior == sample_quality(tiny_model(conditional=True), judge, x, n=100)["frechet_distance"]
    assert fitted != prior


def test_the_plain_vae_with_a_fitted_sampler_ignores_the_asked_classes():
    model = tiny_model()
    model.sampler = LatentMixture(torch.ones(1, 1), torch.full((1, 1, 4), 5.0), torch.zeros(1, 1, 4, 4))
    x = _images(100)
    fitted = sample_quality(model, StubJudge(), x, n=30)["frechet_distance"]
    assert fitted != sample_quality(model, StubJudge(), x, n=30, from_prior=True)["frechet_distance"]


def test_test_features_are_extracted_once_per_judge_and_test_set():
    model = tiny_model(conditional=True)
    x, other = _images(300), _images(300, seed=1)
    judge = StubJudge()
    first = sample_quality(model, judge, x, n=100)
    assert judge.featurized == 100 + 300           # the samples, then the test set
    again = sample_quality(model, judge, x, n=100, from_prior=True)
    assert judge.featurized == 100 + 300 + 100      # the test set's features were reused ...
    assert again == first                           # ... and give the same figures (no sampler: prior draws)
    sample_quality(model, judge, other, n=100)
    assert judge.featurized == 100 + 300 + 100 + 100 + 300  # another test set is featurized afresh
    evaluation._reference_features.cache_clear()
    assert sample_quality(model, judge, x, n=100) == first  # recomputing changes nothing
