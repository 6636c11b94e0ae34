"""A small Fashion-MNIST classifier that judges images made by the VAEs.

It answers "does this reconstruction (or sample) still look like its class?" (notebook 02 and
the README's results table). It is trained by ``tools/make_checkpoints.py`` and shipped as
``checkpoints/classifier.pt``; its test accuracy is stored in the file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import JUDGE_PATH
from .checkpoint import CheckpointError, atomic_save

CLASSIFIER_FORMAT = "vae-latent-lab classifier"


class FashionClassifier(nn.Module):
    """conv3 32 -> pool -> conv3 64 -> pool -> fc 128 -> 10 logits; input (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 1, 28, 28) in [-1, 1] -> class logits (N, 10)."""
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The 128 penultimate activations (N, 128) that the Frechet distance compares."""
        self.eval()
        return torch.cat([self.body(xb) for xb in x.split(batch_size)])

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted class ids, long (N,)."""
        self.eval()
        return torch.cat([self(xb).argmax(1) for xb in x.split(batch_size)])


def train_classifier(train_x, train_y, epochs: int = 4, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, progress: bool = True) -> FashionClassifier:
    """Train the classifier with Adam on images (N, 1, 28, 28) in [-1, 1] and labels (N,).

    Random 2-pixel shifts (a light augmentation) keep it from over-fitting.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = FashionClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train_x), generator=gen)
        for idx in tqdm(order.split(batch_size), desc=f"classifier epoch {epoch + 1}", disable=not progress):
            dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
            xb = torch.roll(train_x[idx], shifts=(dx, dy), dims=(2, 3))
            loss = F.cross_entropy(model(xb), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def save_classifier(path, model: FashionClassifier, test_accuracy: float):
    """Save the classifier and its measured test accuracy, atomically."""
    return atomic_save({"format": CLASSIFIER_FORMAT, "state_dict": model.state_dict(),
                        "test_accuracy": float(test_accuracy)}, path)


def load_classifier(path=JUDGE_PATH) -> FashionClassifier:
    """Load a saved classifier (eval mode, CPU), by default the shipped judge; its test accuracy
    is ``model.test_accuracy``."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} could not be read as a classifier ({err}).") from None
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise CheckpointError(f"{path} is not a vae-latent-lab classifier file.")
    model = FashionClassifier()
    model.load_state_dict(payload["state_dict"])
    model.test_accuracy = payload["test_accuracy"]
    return model.eval()
