"""How well the classes separate in latent space: numbers a reader can compare (notebook 03).

* class separation: latent kNN accuracy (and the same vote on any vectors, e.g. raw pixels),
  confusion matrix and its most confused pairs, silhouette, linear-probe accuracy
* active units: dimensions whose posterior mean varies over the data (Var_x mu_u > 0.01)

The evaluation of whole models (likelihood, reconstructions, samples) is in helpers.evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import CLASS_NAMES, NUM_CLASSES
from .latent import EncodedSet


@dataclass
class Separation:
    """How well the classes separate in latent space.

    knn_accuracy: share of test codes whose k nearest train codes vote their true class
    per_class_accuracy: (10,) the same per true class
    confusion: (10, 10) counts, rows = true class, columns = kNN prediction
    silhouette: mean silhouette of the test codes with the true classes as clusters, in [-1, 1]
    predictions: long (N_test,) the kNN vote for each test code
    """

    k: int
    knn_accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    silhouette: float
    predictions: torch.Tensor

    def most_confused(self, top: int = 5) -> list[tuple[str, str, float]]:
        """The ``top`` (true, predicted, share of the true class) pairs off the diagonal, largest first."""
        rates = confusion_shares(self.confusion)
        np.fill_diagonal(rates, 0.0)
        order = np.argsort(rates, axis=None)[::-1][:top]
        return [(CLASS_NAMES[i], CLASS_NAMES[j], float(rates[i, j]))
                for i, j in zip(*np.unravel_index(order, rates.shape))]


def confusion_shares(confusion: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix: entry (i, j) = share of true class i predicted as j
    (rows sum to 1; an empty row stays 0)."""
    return confusion / confusion.sum(1, keepdims=True).clip(min=1)


def knn_predict(train_z: torch.Tensor, train_y: torch.Tensor, test_z: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Majority vote of the k nearest (Euclidean) train codes for each test code -> long (N_test,)."""
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=k).fit(train_z.double().numpy(), train_y.numpy())
    return torch.from_numpy(clf.predict(test_z.double().numpy())).long()


def class_separation(train: EncodedSet, test: EncodedSet, k: int = 5,
                     silhouette_sample: int | None = 5000, seed: int = 0) -> Separation:
    """kNN accuracy (train codes -> test codes), its confusion matrix, and the silhouette score.

    Uses the posterior means. The silhouette is computed on a seeded random sample of at most
    ``silhouette_sample`` test codes (it is quadratic in N).
    """
    from sklearn.metrics import confusion_matrix, silhouette_score

    pred = knn_predict(train.mu, train.labels, test.mu, k=k)
    truth = test.labels.numpy()
    conf = confusion_matrix(truth, pred.numpy(), labels=list(range(NUM_CLASSES)))
    per_class = confusion_shares(conf).diagonal().copy()
    sil = float(silhouette_score(test.mu.double().numpy(), truth,
                                 sample_size=(None if silhouette_sample is None
                                              or silhouette_sample >= len(truth)
                                              else silhouette_sample),
                                 random_state=seed))
    return Separation(k, float((pred.numpy() == truth).mean()), per_class, conf, sil, pred)


def active_units(codes: EncodedSet, threshold: float = 0.01) -> int:
    """Number of latent dimensions u with Var_x(mu_u(x)) > threshold (Burda et al. 2016)."""
    return int((codes.mu.var(0) > threshold).sum())


def linear_probe_accuracy(train: EncodedSet, test: EncodedSet, seed: int = 0) -> float:
    """Test accuracy of a logistic regression trained on the (standardised) train codes' means."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(train.mu.double().numpy(), train.labels.numpy())
    return float(clf.score(test.mu.double().numpy(), test.labels.numpy()))
