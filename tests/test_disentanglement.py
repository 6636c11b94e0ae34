"""MIG and IoU (helpers.disentanglement) on constructed codes with known answers."""

import math

import numpy as np
import pytest
import torch

from helpers.disentanglement import discretize, entropy, iou, mutual_information, mutual_information_gap


def _factors(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    return rng, np.stack([rng.integers(0, 3, n), rng.integers(0, 6, n), rng.integers(0, 10, n)], axis=1)


def test_mutual_information_and_entropy_of_known_cases():
    a = np.array([0, 0, 1, 1] * 250)
    assert mutual_information(a, a) == pytest.approx(math.log(2))
    assert entropy(a) == pytest.approx(math.log(2))
    assert mutual_information(a, np.array([0, 1] * 500)) == pytest.approx(0.0, abs=1e-12)  # independent
    assert entropy(np.arange(8)) == pytest.approx(math.log(8))


def test_a_perfectly_disentangled_code_scores_one():
    rng, f = _factors()
    codes = np.concatenate([f[:, [2, 0, 1]] + rng.normal(0, 0.01, f.shape), rng.normal(size=(len(f), 2))], axis=1)
    r = mutual_information_gap(codes, f)
    assert r.mig > 0.99
    assert r.best_dims.tolist() == [1, 2, 0]
    assert r.info.shape == (5, 3) and r.gaps.shape == (3,)
    assert np.allclose(r.entropies, [math.log(3), math.log(6), math.log(10)], atol=0.01)


def test_a_random_code_and_a_duplicated_one_score_zero():
    rng, f = _factors()
    assert mutual_information_gap(rng.normal(size=(len(f), 5)), f).mig < 0.01
    one = f[:, :1] + rng.normal(0, 0.01, (len(f), 1))
    assert mutual_information_gap(np.repeat(one, 4, axis=1), f).mig < 0.01  # shape in every dim: no gap


def test_an_entangled_rotation_scores_in_between():
    rng, f = _factors()
    a, b = f[:, 1] / 5.0, f[:, 2] / 9.0
    codes = np.stack([a + b, a - b, rng.normal(size=len(f))], axis=1)
    assert 0.0 < mutual_information_gap(codes, f).mig < 0.6


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one row per code"):
        mutual_information_gap(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        mutual_information_gap(np.random.default_rng(0).normal(size=(10, 1)), np.zeros((10, 1)))
    assert discretize(torch.tensor([[0.0, 5.0], [1.0, 5.0], [0.5, 5.0]])).tolist() == [[0, 0], [19, 0], [10, 0]]


def test_iou_of_known_masks():
    a = -torch.ones(3, 1, 4, 4)
    b = -torch.ones(3, 1, 4, 4)
    a[0, 0, :2, :] = 1      # 8 pixels
    b[0, 0, 1:3, :] = 1     # 8 pixels, 4 shared -> 4 / 12
    a[1, 0, 0, 0] = 1       # disjoint
    b[1, 0, 3, 3] = 1
    assert torch.allclose(iou(a, b), torch.tensor([1 / 3, 0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="shapes differ"):
        iou(a, b[:2])
