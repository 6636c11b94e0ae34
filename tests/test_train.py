import pytest
import torch

from conftest import tiny_model
from helpers.config import ParameterError
from helpers.latent import encode_dataset
from helpers.sampler import fit_latent_mixture
from helpers.model import load_checkpoint, read_checkpoint
from helpers.train import HISTORY_KEYS, TrainingError, choose_device, set_seed, train_vae

LOSS_KEYS = [k for k in HISTORY_KEYS if k != "epoch_seconds"]


@pytest.fixture(scope="module")
def small(fmnist):
    train, test = fmnist
    tr, te = train.subset(256, seed=0), test.subset(128, seed=0)
    return tr.scaled(), tr.labels, te.scaled(), te.labels


def _run(small, epochs=2, seed=0, **kw):
    set_seed(seed)
    model = tiny_model(seed=seed)
    hist = train_vae(model, *small, epochs=epochs, batch_size=64, seed=seed, device="cpu",
                     progress=False, **kw)
    return model, hist


def test_history_has_one_entry_per_epoch_and_loss_falls(small):
    model, hist = _run(small, epochs=3)
    assert all(len(hist[k]) == 3 for k in HISTORY_KEYS)
    for split in ("train", "test"):
        for i in range(3):
            assert hist[f"{split}_loss"][i] == pytest.approx(hist[f"{split}_recon"][i] + hist[f"{split}_kl"][i], rel=1e-5)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert not model.training


def test_same_seed_same_history_other_seed_other_history(small):
    _, a = _run(small, seed=3)
    _, b = _run(small, seed=3)
    _, c = _run(small, seed=4)
    assert [a[k] for k in LOSS_KEYS] == [b[k] for k in LOSS_KEYS]
    assert a["train_loss"] != c["train_loss"]


def test_checkpoint_each_epoch_and_exact_resume(small, tmp_path):
    straight, hist = _run(small, epochs=3, checkpoint=tmp_path / "a.pt")
    _run(small, epochs=1, checkpoint=tmp_path / "b.pt")
    assert read_checkpoint(tmp_path / "b.pt")["training_state"]["epoch"] == 1
    resumed, hist_b = _run(small, epochs=3, checkpoint=tmp_path / "b.pt", resume=True)
    assert [hist[k] for k in LOSS_KEYS] == [hist_b[k] for k in LOSS_KEYS]
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    saved = load_checkpoint(tmp_path / "b.pt")
    assert saved.history["train_loss"] == hist["train_loss"]
    assert saved.config["epochs"] == 3 and saved.config["seed"] == 0


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(small, tmp_path):
    path = tmp_path / "c.pt"
    _run(small, epochs=1, checkpoint=path)
    good = path.read_bytes()
    bad = (small[0].clone(), small[1], small[2], small[3])
    bad[0][5, 0, 3, 3] = float("nan")
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 2.*last good checkpoint"):
        _run(bad, epochs=2, checkpoint=path, resume=True)
    assert path.read_bytes() == good
    assert read_checkpoint(path)["training_state"]["epoch"] == 1


def test_conditional_model_trains_and_a_stale_fitted_sampler_is_dropped(small, tmp_path):
    set_seed(0)
    model = tiny_model(conditional=True)
    model.sampler = fit_latent_mixture(encode_dataset(model, small[0], small[1]), conditional=True, components=1)
    hist = train_vae(model, *small, epochs=1, batch_size=64, device="cpu", progress=False,
                     checkpoint=tmp_path / "c.pt")
    assert len(hist["train_loss"]) == 1 and model.num_classes == 10
    assert model.sampler is None and "sampler" not in read_checkpoint(tmp_path / "c.pt")


def test_bad_training_parameters(small):
    model = tiny_model()
    for kw, msg in [({"epochs": 0}, "EPOCHS=0"), ({"batch_size": 2.5}, "BATCH_SIZE=2.5"),
                    ({"beta": -1.0}, "BETA=-1.0")]:
        with pytest.raises(ParameterError, match=msg):
            train_vae(model, *small, progress=False, device="cpu", **kw)


def test_device_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device("auto").type == "cpu"
    assert choose_device("cpu").type == "cpu"
    with pytest.raises(ParameterError, match="DEVICE='cuda' is not allowed: no CUDA device"):
        choose_device("cuda")
    with pytest.raises(ParameterError, match="DEVICE='tpu' is not allowed.*'auto', 'cpu', 'cuda', 'mps'"):
        choose_device("tpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert choose_device("auto").type == "mps"
