"""Numbers a reader can compare: how well classes separate in latent space, and test ELBO.

Taught in notebook 03 (separation) and notebook 02 (test loss). Every figure here is computed
from data; nothing is written by hand.
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
    """

    k: int
    knn_accuracy: float
    per_class_accuracy: np.ndarray
    confusion: np.ndarray
    silhouette: float

    def most_confused(self, top: int = 5) -> list[tuple[str, str, float]]:
        """The ``top`` (true, predicted, share of the true class) pairs off the diagonal, largest first."""
        rates = self.confusion / self.confusion.sum(1, keepdims=True).clip(min=1)
        np.fill_diagonal(rates, 0.0)
        order = np.argsort(rates, axis=None)[::-1][:top]
        return [(CLASS_NAMES[i], CLASS_NAMES[j], float(rates[i, j]))
                for i, j in zip(*np.unravel_index(order, rates.shape))]


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
    per_class = conf.diagonal() / conf.sum(1).clip(min=1)
    sil = float(silhouette_score(test.mu.double().numpy(), truth,
                                 sample_size=(None if silhouette_sample is None
                                              or silhouette_sample >= len(truth)
                                              else silhouette_sample),
                                 random_state=seed))
    return Separation(k, float((pred.numpy() == truth).mean()), per_class, conf, sil)


@torch.no_grad()
def reconstruct(model, x: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
    """Deterministic reconstructions decode(mu(x)): (N, 1, 28, 28) in [-1, 1] on the CPU."""
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        yb = None if y is None or not getattr(model, "num_classes", 0) else y[start:start + batch_size].to(device)
        mu, _ = model.encode(xb) if yb is None else model.encode(xb, yb)
        out.append((model.decode(mu) if yb is None else model.decode(mu, yb)).cpu())
    return torch.cat(out)


def class_kept(classifier, model, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Does a reconstruction keep its class? The judge classifier's accuracy on the originals and
    on their reconstructions decode(mu(x)), both against the true labels y (N,)."""
    recon = reconstruct(model, x, y)
    return {"classifier_on_originals": float((classifier.predict(x) == y).float().mean()),
            "classifier_on_reconstructions": float((classifier.predict(recon) == y).float().mean())}
