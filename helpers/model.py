"""The convolutional (conditional) VAE, its loss terms, and checkpoints (taught in notebook 02).

Shapes and ranges (the public API in GUIDE.md):

* ``encode(x[, y])``: x float (N, 1, 28, 28) in [-1, 1] -> (mu, logvar), each (N, latent_dim)
* ``decode(z[, y])``: z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1]
* ``sample(n[, y])``: n new images (N, 1, 28, 28) in [-1, 1], z drawn the way the model generates
  best: from its fitted :class:`LatentMixture` (a Gaussian mixture fitted to the codes of the
  training images, per class for a conditional model) when it has one, else from the prior
  N(0, I) (for a conditional model the class's prior N(m_y, I)); ``from_prior=True`` forces the prior
* a conditional model also takes class ids y: long (N,) in 0..9, and has ``num_classes == 10``

Likelihood p(x|z), chosen by ``likelihood=``:

* ``"gaussian"`` (default): x ~ N(decode(z), sigma^2 I) on the [-1, 1] scale with one learned
  sigma shared by all pixels (a "calibrated decoder", Rybkin et al. 2021). The decoder learns
  how sharp it can be, so the ELBO balances reconstruction and KL without a hand-set weight.
  It is a density, so its negative log-likelihood can be below 0.
* ``"bernoulli"``: each pixel's intensity (x + 1) / 2 in [0, 1] scored by binary cross-entropy
  (the classic recipe of Kingma & Welling; for grey values not a normalised density).

The decoder outputs one raw value l per pixel; images are ``2 * sigmoid(l) - 1`` in [-1, 1].
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import NUM_CLASSES, to_pixel_range

#: Bumped whenever the checkpoint layout changes; newer files are refused with a clear message.
CHECKPOINT_FORMAT = "vae-latent-lab checkpoint"
CHECKPOINT_VERSION = 1
LIKELIHOODS = ("gaussian", "bernoulli")
#: floor of the Gaussian decoder's log sigma (sigma >= 0.01 on the [-1, 1] scale)
LOG_SIGMA_MIN = math.log(0.01)


class ConvVAE(nn.Module):
    """A small convolutional VAE, optionally class-conditional.

    Encoder: 1x28x28 -conv4/2-> 32x14x14 -conv4/2-> 64x7x7 -> fc ``hidden`` -> (mu, logvar).
    Decoder: z -> fc ``hidden`` -> 64x7x7 -deconv4/2-> 32x14x14 -deconv4/2-> 1x28x28 logits.
    Conditional: the one-hot class is appended to the encoder's features and to z, and is also
    given to both transposed convolutions as 10 constant extra channels. The prior is
    class-conditional, p(z|y) = N(m_y, I) with a learned mean m_y per class: the KL then charges
    only for z - m_y, so the class sits in m_y for free and z - m_y holds the style.
    """

    def __init__(self, latent_dim: int = 16, hidden: int = 128, channels: tuple[int, int] = (32, 64),
                 conditional: bool = False, likelihood: str = "gaussian"):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood={likelihood!r} is not allowed: use one of {LIKELIHOODS}")
        self.likelihood = likelihood
        self.latent_dim = int(latent_dim)
        self.hidden = int(hidden)
        self.channels = tuple(int(c) for c in channels)
        self.conditional = bool(conditional)
        self.num_classes = NUM_CLASSES if conditional else 0
        c1, c2 = self.channels
        flat = c2 * 7 * 7
        self.enc_conv = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(), nn.Flatten(),
        )
        self.enc_fc = nn.Sequential(nn.Linear(flat + self.num_classes, hidden), nn.ReLU())
        self.enc_out = nn.Linear(hidden, 2 * self.latent_dim)
        self.dec_fc = nn.Sequential(
            nn.Linear(self.latent_dim + self.num_classes, hidden), nn.ReLU(),
            nn.Linear(hidden, flat), nn.ReLU(),
        )
        nc = self.num_classes
        self.dec_conv = nn.Sequential(
            nn.ConvTranspose2d(c2 + nc, c1, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(c1 + nc, 1, 4, 2, 1),
        )
        if likelihood == "gaussian":
            #: log of the decoder's pixel noise sigma (on the [-1, 1] scale), learned
            self.log_sigma = nn.Parameter(torch.zeros(()))
        if self.conditional:
            #: the class-conditional prior's means m_y: (num_classes, latent_dim), learned
            self.prior_mu = nn.Parameter(torch.zeros(nc, self.latent_dim))
        #: a fitted LatentMixture that sample() draws z from, or None (then the prior); see
        #: helpers.latent.fit_latent_mixture. Not a weight: training clears it (it goes stale).
        self.sampler: LatentMixture | None = None

    # -- architecture record, stored in checkpoints -------------------------------------------
    def arch(self) -> dict:
        """The hyper-parameters that rebuild this model: ``ConvVAE(**model.arch())``."""
        return {"latent_dim": self.latent_dim, "hidden": self.hidden, "channels": list(self.channels),
                "conditional": self.conditional, "likelihood": self.likelihood}

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _onehot(self, y: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if not self.conditional:
            if y is not None:
                raise ValueError("this model is unconditional: call it without class ids y")
            return None
        if y is None:
            raise ValueError("this model is conditional: pass class ids y, a long tensor (N,) in 0..9")
        y = torch.as_tensor(y, device=self._device()).long().reshape(-1)
        if y.numel() == 1 and n != 1:
            y = y.expand(n)
        if y.numel() != n:
            raise ValueError(f"got {y.numel()} class ids for {n} items")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"class ids must be in 0..{self.num_classes - 1}, got {y.tolist()[:10]}")
        return F.one_hot(y, self.num_classes).float()

    # -- the public API -----------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """x (N, 1, 28, 28) in [-1, 1] -> mu, logvar: each (N, latent_dim)."""
        h = self.enc_conv(x)
        oh = self._onehot(y, x.shape[0])
        if oh is not None:
            h = torch.cat([h, oh], dim=1)
        mu, logvar = self.enc_out(self.enc_fc(h)).chunk(2, dim=1)
        return mu, logvar

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (N, latent_dim) -> the decoder's raw output l (N, 1, 28, 28), unbounded.

        Bernoulli: l are the logits. Gaussian: the mean is ``2 * sigmoid(l) - 1``."""
        oh = self._onehot(y, z.shape[0])
        if oh is None:
            return self.dec_conv(self.dec_fc(z).view(-1, self.channels[1], 7, 7))
        h = self.dec_fc(torch.cat([z, oh], dim=1)).view(-1, self.channels[1], 7, 7)
        up1, relu, up2 = self.dec_conv
        h = relu(up1(torch.cat([h, oh[:, :, None, None].expand(-1, -1, 7, 7)], dim=1)))
        return up2(torch.cat([h, oh[:, :, None, None].expand(-1, -1, 14, 14)], dim=1))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1]: the mean of p(x|z)."""
        return 2.0 * torch.sigmoid(self.decode_logits(z, y)) - 1.0

    def prior_mean(self, y: torch.Tensor | None = None, n: int = 1) -> torch.Tensor:
        """Mean of the prior p(z|y) for each item: (n, latent_dim); zeros for an unconditional model."""
        oh = self._onehot(y, n)
        if oh is None:
            return torch.zeros(n, self.latent_dim, device=self._device())
        return oh @ self.prior_mu

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """KL(q(z|x[, y]) || p(z[|y])) per item: (N,). The prior is N(0, I), or N(m_y, I) if conditional."""
        return kl_divergence(mu - self.prior_mean(y, mu.shape[0]), logvar)

    @torch.no_grad()
    def sample_codes(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     from_prior: bool = False) -> torch.Tensor:
        """n codes z (n, latent_dim): from the fitted sampler if there is one (and not
        ``from_prior``), else from the prior N(0, I) (conditional: N(m_y, I))."""
        oh = self._onehot(y, n)
        if self.sampler is not None and not from_prior:
            groups = torch.zeros(n, dtype=torch.long) if oh is None else oh.argmax(1).cpu()
            return self.sampler.draw(groups, generator).to(self._device())
        eps = torch.randn(n, self.latent_dim, generator=generator).to(self._device())
        return self.prior_mean(y, n) + eps

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               from_prior: bool = False) -> torch.Tensor:
        """n new images (N, 1, 28, 28) in [-1, 1]: ``decode(sample_codes(n, y), y)``."""
        return self.decode(self.sample_codes(n, y, generator, from_prior), y)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """One stochastic pass: returns (raw decoder output, mu, logvar), z reparameterized."""
        mu, logvar = self.encode(x, y)
        z = reparameterize(mu, logvar)
        return self.decode_logits(z, y), mu, logvar

    def sigma(self) -> float:
        """The Gaussian decoder's pixel noise sigma on the [-1, 1] scale (NaN for Bernoulli)."""
        if self.likelihood != "gaussian":
            return float("nan")
        return float(self.log_sigma.detach().clamp_min(LOG_SIGMA_MIN).exp())

    def reconstruction_nll(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per item, summed over the 784 pixels: raw decoder output, x -> (N,) nats."""
        if self.likelihood == "gaussian":
            return gaussian_nll(2.0 * torch.sigmoid(raw) - 1.0, x, self.log_sigma)
        return bernoulli_nll(raw, x)


class LatentMixture:
    """A Gaussian mixture over latent codes, one per group: ``sample()``'s "better prior".

    A VAE's prior N(0, I) and the codes its encoder actually uses (the aggregate posterior
    q(z) = mean over the data of q(z|x)) never match exactly; prior draws that land between the
    regions the decoder was trained on decode to blurry in-between images. Fitting a small
    mixture to the training codes after training and sampling from it ("ex-post density
    estimation", Ghosh et al. 2020) keeps samples where the decoder is good.

    groups G: 1 for an unconditional model, 10 (one mixture per class) for a conditional one;
    K components each. weights (G, K) sum to 1 per group; means (G, K, D); scale_tril (G, K, D, D)
    lower-triangular Cholesky factors of the covariances.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor):
        self.weights = weights.double()
        self.means = means.float()
        self.scale_tril = scale_tril.float()
        g, k, d = self.means.shape
        if self.weights.shape != (g, k) or self.scale_tril.shape != (g, k, d, d):
            raise ValueError(f"mixture shapes do not agree: weights {tuple(self.weights.shape)}, "
                             f"means {tuple(self.means.shape)}, scale_tril {tuple(self.scale_tril.shape)}")
        if not torch.allclose(self.weights.sum(1), torch.ones(g, dtype=torch.float64), atol=1e-4):
            raise ValueError("mixture weights must sum to 1 in every group")

    @property
    def groups(self) -> int:
        return self.means.shape[0]

    @property
    def components(self) -> int:
        return self.means.shape[1]

    @property
    def latent_dim(self) -> int:
        return self.means.shape[2]

    def fits(self, latent_dim: int, conditional: bool) -> bool:
        """Whether this mixture can serve a model of that latent size and kind (10 groups for a
        conditional model, 1 otherwise)."""
        return self.latent_dim == latent_dim and self.groups == (NUM_CLASSES if conditional else 1)

    def draw(self, groups: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One code per entry of ``groups`` (long (n,) in 0..G-1) -> (n, D) on the CPU."""
        n = len(groups)
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        cum = self.weights.cumsum(1)[groups]  # (n, K)
        comp = (u[:, None] > cum).sum(1).clamp_max(self.components - 1)
        eps = torch.randn(n, self.latent_dim, generator=generator)
        mean = self.means[groups, comp]
        return mean + (self.scale_tril[groups, comp] @ eps.unsqueeze(2)).squeeze(2)

    def state(self) -> dict:
        """Plain tensors for a checkpoint."""
        return {"weights": self.weights.clone(), "means": self.means.clone(), "scale_tril": self.scale_tril.clone()}

    @classmethod
    def from_state(cls, state: dict) -> "LatentMixture":
        return cls(state["weights"], state["means"], state["scale_tril"])


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample of q(z|x) that gradients flow through."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per item, summed over latent dims: (N, D) -> (N,).

    Closed form: 0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2); exactly 0 for mu=0, logvar=0.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood per item, summed over the 784 pixels: -> (N,) nats.

    logits: decoder output (N, 1, 28, 28); x: targets in [-1, 1] (mapped to [0, 1] here).
    """
    target = to_pixel_range(x)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)


def gaussian_nll(mean: torch.Tensor, x: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian negative log-density per item, summed over pixels: -> (N,) nats.

    sum_i (x_i - mean_i)^2 / (2 sigma^2) + log sigma + log(2 pi) / 2, with one sigma for all
    pixels, ``log_sigma`` clamped at LOG_SIGMA_MIN (sigma >= 0.01) so it cannot run away.
    """
    log_sigma = log_sigma.clamp_min(LOG_SIGMA_MIN)
    sq = (x - mean).pow(2).flatten(1)
    return (0.5 * sq / torch.exp(2 * log_sigma) + log_sigma + 0.5 * math.log(2 * math.pi)).sum(1)


def vae_loss(model: "ConvVAE", x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0) -> dict:
    """The negative ELBO (beta = 1) or the beta-VAE objective on a batch, as batch means.

    One z per image is drawn with the reparameterization trick. Returns {"loss", "recon", "kl"}:
    recon and kl are *summed* over pixels and latent dims and *averaged* over the batch;
    loss = recon + beta * kl. Averaging over pixels instead would shrink the reconstruction
    term 784-fold against the KL and give blurry or collapsed models.
    """
    raw, mu, logvar = model(x, y) if model.conditional else model(x)
    recon = model.reconstruction_nll(raw, x).mean()
    kl = model.kl(mu, logvar, y if model.conditional else None).mean()
    return {"loss": recon + beta * kl, "recon": recon, "kl": kl}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# -- checkpoints -------------------------------------------------------------------------------
class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, of another format or of the wrong kind."""


def save_checkpoint(path, model: ConvVAE, *, config: dict | None = None, history: dict | None = None,
                    training_state: dict | None = None) -> Path:
    """Write ``model`` and everything needed to rebuild it to ``path``, atomically.

    The file is first written beside ``path`` and then renamed over it, so a crash mid-save
    leaves the previous checkpoint intact. Holds only tensors, numbers, strings, lists and
    dicts, so :func:`load_checkpoint` reads it with ``weights_only=True`` (no code runs).

    config: training configuration (epochs, beta, seed, ...); history: per-epoch losses;
    training_state: optimizer state and epoch counter for resuming (omit for a shipped model).
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_class": type(model).__name__,
        "arch": model.arch(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "normalization": {"pixel_scale": "x = pixel / 127.5 - 1", "range": [-1.0, 1.0]},
        "config": dict(config or {}),
        "history": dict(history or {}),
    }
    if model.sampler is not None:
        payload["sampler"] = model.sampler.state()
    if training_state is not None:
        payload["training_state"] = training_state
    return atomic_save(payload, path)


def atomic_save(payload: dict, path) -> Path:
    """``torch.save(payload)`` to a temporary file beside ``path``, then rename it over ``path``.

    A crash or kill at any moment leaves either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_checkpoint(path) -> dict:
    """The raw checkpoint dict, checked for format and version; raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train one with notebook 02, or use the shipped "
            f"checkpoints/vae.pt (CHECKPOINT = 'auto' picks it)."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}). The file is damaged or not a vae-latent-lab "
            f"checkpoint: re-train with notebook 02 or restore it with `git checkout -- {path.name}`."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a vae-latent-lab checkpoint (it lacks format={CHECKPOINT_FORMAT!r}). "
            f"Save models with helpers.model.save_checkpoint."
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, newer than this code reads "
            f"({CHECKPOINT_VERSION}). Update vae-latent-lab (git pull) to load it."
        )
    return payload


def load_checkpoint(path, device: str | torch.device = "cpu", conditional: bool | None = None) -> ConvVAE:
    """Rebuild the model saved at ``path``: an ``nn.Module`` in eval mode on ``device`` (CPU).

    conditional: if given, the checkpoint must be of that kind (a clear error otherwise).
    The training config and history are attached as ``model.config`` and ``model.history``.
    """
    payload = read_checkpoint(path)
    arch = payload["arch"]
    if conditional is not None and bool(arch.get("conditional")) != conditional:
        kind = "a conditional" if arch.get("conditional") else "an unconditional"
        want = "a conditional" if conditional else "an unconditional"
        raise CheckpointError(
            f"{path} holds {kind} VAE but {want} one is expected here. Point the checkpoint "
            f"parameter (CHECKPOINT, or CVAE_CHECKPOINT in notebook 04) at {want} checkpoint "
            f"such as checkpoints/{'cvae' if conditional else 'vae'}.pt."
        )
    model = ConvVAE(**arch)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: the weights do not fit the architecture {arch} "
            f"({str(err).splitlines()[0][:200]}). The file is damaged or was edited; re-train it."
        ) from None
    if "sampler" in payload:
        try:
            sampler = LatentMixture.from_state(payload["sampler"])
            ok = sampler.fits(model.latent_dim, model.conditional)
        except (KeyError, TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise CheckpointError(
                f"{path}: its fitted sampler does not fit the model (expected {model.num_classes or 1} group(s) of "
                f"{model.latent_dim}-D Gaussians). The file is damaged or was edited; re-fit it with "
                f"helpers.latent.fit_latent_mixture and save again."
            )
        model.sampler = sampler
    model.config = payload.get("config", {})
    model.history = payload.get("history", {})
    return model.to(device).eval()


def save_sampler(path, sampler: LatentMixture) -> Path:
    """Store a fitted sampler in the existing checkpoint at ``path`` (replacing any), atomically.

    Everything else in the file (weights, history, optimizer state for resuming) is kept.
    """
    payload = read_checkpoint(path)
    arch = payload["arch"]
    if not sampler.fits(arch["latent_dim"], bool(arch.get("conditional"))):
        raise ValueError(f"a sampler of {sampler.groups} group(s) of {sampler.latent_dim}-D Gaussians does not fit "
                         f"the model in {path} ({NUM_CLASSES if arch.get('conditional') else 1} group(s), "
                         f"latent_dim {arch['latent_dim']})")
    payload["sampler"] = sampler.state()
    return atomic_save(payload, path)


def export_checkpoint(src, dst) -> Path:
    """Copy a training checkpoint without its optimizer state (a third of the size): for shipping."""
    payload = read_checkpoint(src)
    payload.pop("training_state", None)
    return atomic_save(payload, dst)
