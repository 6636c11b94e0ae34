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
