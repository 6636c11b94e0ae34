import math
import os

import pytest
import torch

from conftest import ROOT, tiny_model
from helpers.checkpoint import CHECKPOINT_VERSION, architecture
from helpers.model import (CheckpointError, ImageVAE, LatentMixture, export_checkpoint, kl_divergence,
                           load_checkpoint, read_checkpoint, reparameterize, save_checkpoint, save_sampler, vae_loss)
from helpers.image_vae import bernoulli_nll
from helpers.vae import gaussian_nll


def _x(n=5, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_public_api_shapes_and_ranges(likelihood):
    model = ImageVAE(latent_dim=7, likelihood=likelihood).eval()
    assert model.latent_dim == 7
    mu, logvar = model.encode(_x())
    assert mu.shape == (5, 7) and logvar.shape == (5, 7)
    img = model.decode(torch.randn(3, 7) * 10)
    assert img.shape == (3, 1, 28, 28) and img.min() >= -1 and img.max() <= 1
    s = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4, 1, 28, 28) and s.min() >= -1 and s.max() <= 1
    assert torch.equal(s, model.sample(4, generator=torch.Generator().manual_seed(0)))


def test_conditional_api():
    model = tiny_model(conditional=True)
    assert model.num_classes == 10
    y = torch.tensor([0, 3, 9, 1, 2])
    mu, logvar = model.encode(_x(), y)
    assert mu.shape == (5, 4)
    a, b = model.decode(mu, y), model.decode(mu, (y + 1) % 10)
    assert a.shape == (5, 1, 28, 28) and not torch.equal(a, b)
    assert model.sample(3, torch.tensor(7)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="conditional: pass class ids y"):
        model.decode(mu)
    with pytest.raises(ValueError, match=r"class ids must be in 0..9"):
        model.decode(mu, torch.tensor([0, 1, 2, 3, 10]))
    # the plain VAE takes y and ignores it, so callers never branch on the kind of model
    plain = tiny_model()
    assert torch.equal(plain.encode(_x(), y)[0], plain.encode(_x())[0])
    assert not plain.conditional and model.conditional


def test_kl_of_the_prior_itself_is_zero_and_a_hand_computed_case():
    assert kl_divergence(torch.zeros(3, 5), torch.zeros(3, 5)).tolist() == [0.0, 0.0, 0.0]
    # mu = (1, 0), sigma^2 = (1, 2): 0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 2 - 1 - log 2)
    kl = kl_divergence(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]]))
    assert kl.item() == pytest.approx(0.5 + 0.5 * (1 - math.log(2)), abs=1e-6)


def test_kl_closed_form_matches_monte_carlo():
    mu, logvar = torch.tensor([[0.7, -1.2]]), torch.tensor([[-0.5, 0.3]])
    torch.manual_seed(0)
    z = reparameterize(mu.expand(400000, 2), logvar.expand(400000, 2))
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert (log_q - log_p).mean().item() == pytest.approx(kl_divergence(mu, logvar).item(), abs=0.01)


def test_bernoulli_nll_hand_computed():
    x = torch.full((2, 1, 28, 28), -1.0)
    x[1] = 1.0
    # logits 0 -> p = 0.5 for every pixel, whatever the target: 784 * log 2
    assert bernoulli_nll(torch.zeros(2, 1, 28, 28), x).tolist() == pytest.approx([784 * math.log(2)] * 2)
    # logits 2 on a full-ink image: -log sigmoid(2) per pixel
    assert bernoulli_nll(torch.full((1, 1, 28, 28), 2.0), x[1:]).item() == \
        pytest.approx(784 * -math.log(1 / (1 + math.exp(-2))), rel=1e-5)


def test_gaussian_nll_hand_computed():
    x = torch.zeros(1, 1, 28, 28)
    mean = torch.full((1, 1, 28, 28), 0.5)
    log_sigma = torch.tensor(math.log(0.5))
    # per pixel: 0.25 / (2 * 0.25) + log 0.5 + 0.5 log(2 pi)
    want = 784 * (0.5 + math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert gaussian_nll(mean, x, log_sigma).item() == pytest.approx(want, rel=1e-5)
    # sigma is floored at 0.01
    assert gaussian_nll(x, x, torch.tensor(-50.0)).item() == \
        pytest.approx(784 * (math.log(0.01) + 0.5 * math.log(2 * math.pi)), rel=1e-5)


def test_vae_loss_sums_over_pixels_and_dims_and_averages_over_the_batch():
    model = tiny_model()
    x = _x(6)
    torch.manual_seed(1)
    terms = vae_loss(model, x, beta=3.0)
    torch.manual_seed(1)
    x_hat, mu, logvar = model(x)
    per_item_recon = gaussian_nll(x_hat, x, model.log_sigma)
    assert per_item_recon.shape == (6,)
    assert terms["recon"].item() == pytest.approx(per_item_recon.mean().item(), rel=1e-6)
    assert terms["kl"].item() == pytest.approx(kl_divergence(mu, logvar).mean().item(), rel=1e-6)
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + 3.0 * terms["kl"].item(), rel=1e-6)


def test_checkpoint_round_trip(tmp_path):
    model = tiny_model(latent_dim=5, conditional=True)
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, config={"beta": 2.0}, history={"train_loss": [3.0]})
    loaded = load_checkpoint(path)
    assert not loaded.training and loaded.latent_dim == 5 and loaded.num_classes == 10
    assert architecture(loaded) == architecture(model) and loaded.config == {"beta": 2.0}
    assert loaded.history == {"train_loss": [3.0]}
    z, y = torch.randn(3, 5), torch.tensor([1, 2, 3])
    assert torch.equal(loaded.decode(z, y), model.decode(z, y))
    payload = read_checkpoint(path)
    assert payload["format_version"] == CHECKPOINT_VERSION
    assert payload["normalization"]["range"] == [-1.0, 1.0]
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temporary file left behind


def test_export_drops_the_optimizer_state(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "t.pt", model, training_state={"optimizer": {"x": torch.zeros(1000)}, "epoch": 2})
    export_checkpoint(tmp_path / "t.pt", tmp_path / "s.pt")
    assert "training_state" not in read_checkpoint(tmp_path / "s.pt")
    assert "training_state" in read_checkpoint(tmp_path / "t.pt")


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint at .*nope.pt.*notebook 02"):
        load_checkpoint(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="could not be read as a checkpoint"):
        load_checkpoint(junk)
    good = save_checkpoint(tmp_path / "good.pt", tiny_model())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(truncated)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": tiny_model().state_dict()}, other)
    with pytest.raises(CheckpointError, match="not a vae-latent-lab checkpoint"):
        load_checkpoint(other)
    payload = read_checkpoint(good)
    payload["format_version"] = CHECKPOINT_VERSION + 1
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match="newer than this code reads"):
        load_checkpoint(tmp_path / "newer.pt")
    cond = save_checkpoint(tmp_path / "cond.pt", tiny_model(conditional=True))
    with pytest.raises(CheckpointError, match="holds a conditional VAE but an unconditional one is expected"):
        load_checkpoint(cond, conditional=False)
    payload = read_checkpoint(good)
    payload["arch"]["latent_dim"] = 9
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        load_checkpoint(tmp_path / "mismatch.pt")


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "vae-latent-lab checkpoint", "payload": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", tiny_model(seed=0))
    before = path.read_bytes()

    def dies_halfway(obj, fh, *a, **k):
        fh.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, tiny_model(seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_shipped_checkpoint_follows_the_public_api():
    model = load_checkpoint(ROOT / "checkpoints" / "vae.pt")
    assert isinstance(model, torch.nn.Module) and not model.training
    assert next(model.parameters()).device.type == "cpu"
    assert model.latent_dim == 16 and not model.conditional
    assert model.config["epochs"] == len(model.history["train_loss"])
    x = model.sample(8, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 28, 28) and -1 <= x.min() and x.max() <= 1
    assert (ROOT / "checkpoints" / "vae.pt").stat().st_size < 5e6


def test_a_process_killed_mid_save_leaves_a_loadable_checkpoint(tmp_path):
    """A real child process saves over the same file in a loop and is SIGKILLed at a random moment."""
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "live.pt"
    save_checkpoint(path, ImageVAE(latent_dim=3))
    code = ("import torch\n"
            "from helpers.model import ImageVAE, save_checkpoint\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    save_checkpoint(%r, ImageVAE(latent_dim=3), history={'x': [float(torch.rand(1))]})\n"
            % (str(path),))
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        model = load_checkpoint(path)  # never a half-written file
        assert model.latent_dim == 3


def test_shipped_conditional_checkpoint_follows_the_public_api():
    model = load_checkpoint(ROOT / "checkpoints" / "cvae.pt", conditional=True)
    assert model.num_classes == 10 and model.latent_dim == 16 and model.conditional
    y = torch.arange(10)
    x = model.sample(10, y, generator=torch.Generator().manual_seed(0))
    assert x.shape == (10, 1, 28, 28) and -1 <= x.min() and x.max() <= 1
    mu, logvar = model.encode(x, y)
    assert mu.shape == (10, 16) and model.decode(mu, y).shape == (10, 1, 28, 28)
    assert (ROOT / "checkpoints" / "cvae.pt").stat().st_size < 5e6


def test_conditional_prior_has_a_learned_mean_per_class():
    model = tiny_model(latent_dim=3, conditional=True)
    with torch.no_grad():
        model.prior_mu.copy_(torch.arange(30, dtype=torch.float32).view(10, 3))
    y = torch.tensor([2, 7])
    assert model.prior_mean(2, y).tolist() == [[6.0, 7.0, 8.0], [21.0, 22.0, 23.0]]
    # KL is measured against N(m_y, I): zero when q equals it, the N(0, I) formula shifted otherwise
    mu = model.prior_mean(2, y)
    assert model.kl(mu, torch.zeros(2, 3), y).tolist() == [0.0, 0.0]
    assert model.kl(mu + 1.0, torch.zeros(2, 3), y).tolist() == pytest.approx([1.5, 1.5])
    # samples are drawn around m_y: decoding m_y + eps with the same generator
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    eps = torch.randn(2, 3, generator=g2)
    assert torch.allclose(model.sample(2, y, generator=g1), model.decode(mu + eps, y))
    assert tiny_model().prior_mean(4).tolist() == [[0.0] * 4] * 4


def _point_mixture(groups: int, dim: int) -> LatentMixture:
    """A mixture whose group g always gives the code (g, g, ...) (zero covariance)."""
    means = torch.arange(groups, dtype=torch.float32)[:, None, None].expand(groups, 1, dim)
    return LatentMixture(torch.ones(groups, 1), means, torch.zeros(groups, 1, dim, dim))


def test_sample_draws_from_the_fitted_mixture_unless_asked_for_the_prior():
    model = tiny_model(latent_dim=3, conditional=True)
    model.sampler = _point_mixture(10, 3)
    y = torch.tensor([2, 7])
    assert model.sample_codes(2, y).tolist() == [[2.0] * 3, [7.0] * 3]
    assert torch.equal(model.sample(2, y), model.decode(torch.tensor([[2.0] * 3, [7.0] * 3]), y))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    prior = model.prior_mean(2, y) + torch.randn(2, 3, generator=g2)
    assert torch.allclose(model.sample_codes(2, y, g1, from_prior=True), prior)
    unconditional = tiny_model(latent_dim=3)
    unconditional.sampler = _point_mixture(1, 3)
    assert unconditional.sample_codes(2).tolist() == [[0.0] * 3] * 2


def test_the_fitted_sampler_travels_in_the_checkpoint_and_is_checked(tmp_path):
    model = tiny_model(latent_dim=3, conditional=True)
    model.sampler = _point_mixture(10, 3)
    path = save_checkpoint(tmp_path / "m.pt", model)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded.sampler.means, model.sampler.means)
    assert loaded.sample_codes(1, torch.tensor([4])).tolist() == [[4.0] * 3]
    assert load_checkpoint(save_checkpoint(tmp_path / "p.pt", tiny_model(latent_dim=3))).sampler is None
    payload = read_checkpoint(path)
    payload["sampler"] = _point_mixture(1, 3).state()  # one group for a ten-class model
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt: its fitted sampler does not fit the model \(expected 10 group"):
        load_checkpoint(tmp_path / "bad.pt")


def test_mixture_rejects_inconsistent_parts():
    with pytest.raises(ValueError, match="mixture shapes do not agree"):
        LatentMixture(torch.ones(2, 1), torch.zeros(2, 1, 3), torch.zeros(2, 1, 2, 2))
    with pytest.raises(ValueError, match="weights must sum to 1"):
        LatentMixture(torch.full((1, 2), 0.7), torch.zeros(1, 2, 3), torch.zeros(1, 2, 3, 3))


def test_save_sampler_adds_it_to_a_training_checkpoint_and_keeps_the_rest(tmp_path):
    model = tiny_model(latent_dim=3)
    path = save_checkpoint(tmp_path / "t.pt", model, history={"train_loss": [1.0]},
                           training_state={"optimizer": {"x": torch.ones(2)}, "epoch": 1})
    save_sampler(path, _point_mixture(1, 3))
    payload = read_checkpoint(path)
    assert payload["history"] == {"train_loss": [1.0]} and payload["training_state"]["epoch"] == 1
    assert load_checkpoint(path).sample_codes(2).tolist() == [[0.0] * 3] * 2
    with pytest.raises(ValueError, match=r"1 group\(s\) of 4-D Gaussians does not fit the model in .*t.pt"):
        save_sampler(path, _point_mixture(1, 4))
