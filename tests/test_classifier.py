"""The judge classifier: batching, saving and loading, training, and the shipped judge's figure."""

import pytest
import torch

from helpers.classifier import FashionClassifier, load_classifier, save_classifier, train_classifier
from helpers.model import CheckpointError


def test_batched_features_and_predictions_equal_one_pass():
    torch.manual_seed(0)
    judge = FashionClassifier().eval()
    x = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(judge.features(x, batch_size=3), judge.body(x), atol=1e-6)
        assert torch.equal(judge.predict(x, batch_size=3), judge(x).argmax(1))
    assert judge.features(x).shape == (7, 128)


def test_training_learns_an_easy_task_and_survives_a_round_trip(tmp_path):
    """Three classes of plain images, black, grey and white: 2 epochs on 512 images learn them."""
    def plain(n, seed):
        y = torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(seed))
        return (y.float() - 1).view(-1, 1, 1, 1).expand(-1, 1, 28, 28).clone(), y

    (x, y), (tx, ty) = plain(512, 0), plain(200, 1)
    judge = train_classifier(x, y, epochs=2, seed=0, progress=False)
    acc = float((judge.predict(tx) == ty).float().mean())
    assert acc == 1.0
    save_classifier(tmp_path / "judge.pt", judge, acc)
    again = load_classifier(tmp_path / "judge.pt")
    assert again.test_accuracy == acc and torch.equal(again.predict(tx), judge.predict(tx))


def test_loading_something_else_is_a_clear_error(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read as a classifier"):
        load_classifier(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a vae-latent-lab classifier"):
        load_classifier(tmp_path / "other.pt")


def test_the_shipped_judge_scores_what_its_file_says(fmnist):
    _, test = fmnist
    judge = load_classifier()
    measured = float((judge.predict(test.scaled()) == test.labels).float().mean())
    assert measured == pytest.approx(judge.test_accuracy, abs=1e-6)
    assert judge.test_accuracy == pytest.approx(0.904, abs=0.0005)  # the README's figure
