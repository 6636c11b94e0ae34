"""The lesson's VAE, extended for the optional notebooks: other image shapes, the Bernoulli
decoder, a fitted sampler, and the loss that trains them all.

Notebook 02 teaches :class:`helpers.vae.ConvVAE`, the plain 28 x 28 model, and changes nothing
here. :class:`ImageVAE` is that model with what notebooks 04-06 and the public API need:

- ``image_shape`` (C, H, W): C in {1, 3}, H == W in {28, 32, 64}; one stride-2 convolution per
  halving of the side while it is above 7 (``conv_channels``): 28 x 28 gets the lesson's two
  layers, 64 x 64 four. Every layer keeps the lesson's name, so the same weights load in both.
- ``likelihood``: "gaussian" (the lesson's, one learned sigma) or "bernoulli" (binary
  cross-entropy of the logits against intensities in [0, 1]: notebook 06's shapes).
- ``sampler``: a Gaussian mixture fitted to the training codes (helpers.sampler); ``sample(n)``
  draws from it, ``from_prior=True`` from the prior.
- ``y`` (ignored here): the conditional VAE of notebook 05 (helpers.cvae) subclasses this class
  and takes class ids; every caller passes ``y`` the same way.

:func:`model_loss` is the lesson's ``vae_loss`` for all of these models; the package trains them
through the lesson's own ``fit`` and ``train_epoch`` (helpers.train.train_vae), passing it.
Shapes: x (N, C, H, W) in [-1, 1]; z, mu, logvar (N, latent_dim); losses in nats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .vae import LOG_SIGMA_MIN, ConvVAE, gaussian_nll, kl_divergence, reparameterize

IMAGE_SIZES, IMAGE_CHANNELS = (28, 32, 64), (1, 3)
LESSON_SHAPE, LESSON_CHANNELS = (1, 28, 28), (32, 64)


def valid_image_shape(image_shape) -> tuple[int, int, int]:
    """(C, H, W) as a tuple of ints, checked: C in {1, 3} (grey or colour), H == W in {28, 32, 64}."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[0] not in IMAGE_CHANNELS or shape[1] != shape[2] or shape[1] not in IMAGE_SIZES:
        raise ValueError(f"image_shape={tuple(image_shape)!r} is not allowed: use (C, H, W) with C in {IMAGE_CHANNELS} "
                         f"and H == W in {IMAGE_SIZES}, e.g. (1, 28, 28) or (3, 64, 64)")
    return shape


def conv_channels(image_shape) -> tuple[int, ...]:
    """Channels of the stride-2 convolutions for an image (C, H, W): one layer per halving of the side
    while it is above 7, doubling up to 64 in the last. 28 -> 14 -> 7: (32, 64); 32 -> 16 -> 8 -> 4:
    (16, 32, 64); 64 -> 32 -> 16 -> 8 -> 4: (8, 16, 32, 64)."""
    side, depth = valid_image_shape(image_shape)[1], 0
    while side > 7:
        side, depth = side // 2, depth + 1
    return tuple(64 // 2 ** (depth - 1 - k) for k in range(depth))


class ImageVAE(ConvVAE):
    """The lesson's ConvVAE for images (C, H, W) in [-1, 1], with a Gaussian or Bernoulli decoder and an
    optional fitted sampler. For (1, 28, 28) and the Gaussian decoder it is the lesson's model, weight
    for weight (the same seed gives the same initial weights)."""

    conditional = False  # the conditional VAE of notebook 05 (helpers.cvae) sets this to True

    def __init__(self, latent_dim=16, hidden=128, channels=None, likelihood="gaussian", image_shape=LESSON_SHAPE):
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood={likelihood!r} is not allowed: use 'gaussian' or 'bernoulli'")
        shape = valid_image_shape(image_shape)
        chans = tuple(int(c) for c in (channels or conv_channels(shape)))
        side = shape[1] // 2 ** len(chans)
        if side * 2 ** len(chans) != shape[1]:
            raise ValueError(f"channels={channels!r}: {len(chans)} halvings do not divide the image side "
                             f"{shape[1]}; use conv_channels(image_shape)")
        rng = torch.random.get_rng_state()
        super().__init__(int(latent_dim), int(hidden))
        self.likelihood, self.image_shape, self.channels, self.feature_size = likelihood, shape, chans, side
        if (shape, chans) != (LESSON_SHAPE, LESSON_CHANNELS):
            torch.random.set_rng_state(rng)  # build the other shape's layers from the same random state
            self._build_layers()
        if likelihood == "bernoulli":
            del self.log_sigma  # the Bernoulli decoder has no noise level
        self.sampler = None  # optional: a better sampler than the prior, fitted after training

    def _build_layers(self):
        """The lesson's layers, in the lesson's order and names, for ``image_shape`` and ``channels``."""
        sizes, f, h = (self.image_shape[0],) + self.channels, self.feature_size, self.hidden
        down = []
        for c_in, c_out in zip(sizes[:-1], sizes[1:]):
            down += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.enc_conv = nn.Sequential(*down, nn.Flatten())
        self.enc_fc = nn.Sequential(nn.Linear(sizes[-1] * f * f, h), nn.ReLU())
        self.enc_out = nn.Linear(h, 2 * self.latent_dim)
        self.dec_fc = nn.Sequential(nn.Linear(self.latent_dim, h), nn.ReLU(), nn.Linear(h, sizes[-1] * f * f), nn.ReLU())
        up = []
        for c_in, c_out in zip(sizes[:0:-1], sizes[-2::-1]):
            up += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]
        self.dec_conv = nn.Sequential(*up[:-1])

    def encode(self, x, y=None):
        """x (N, C, H, W) in [-1, 1] -> mu, logvar: each (N, latent_dim). (y: ignored here.)"""
        return super().encode(x)

    def decode_raw(self, z, y=None):
        """z (N, latent_dim) -> the decoder's raw output (N, C, H, W), unbounded (logits for Bernoulli)."""
        f = self.feature_size
        return self.dec_conv(self.dec_fc(z).view(-1, self.channels[-1], f, f))

    def decode(self, z, y=None):
        """z (N, latent_dim) -> the mean image of p(x|z): (N, C, H, W) in [-1, 1]."""
        return 2 * torch.sigmoid(self.decode_raw(z, y)) - 1

    def forward(self, x, y=None):
        """One pass with a random z: (the mean image, mu, logvar), as the lesson's model returns."""
        mu, logvar = self.encode(x, y)
        return self.decode(reparameterize(mu, logvar), y), mu, logvar

    def kl(self, mu, logvar, y=None):
        """KL(q(z|x) || p(z)) per image, (N,) nats, for the prior p(z) = N(0, I)."""
        return kl_divergence(mu, logvar)

    def prior_mean(self, n, y=None):
        """The prior's mean for n codes: zeros (n, latent_dim)."""
        return torch.zeros(n, self.latent_dim, device=next(self.parameters()).device)

    @torch.no_grad()
    def sample_codes(self, n, y=None, generator=None, from_prior=False):
        """n codes (n, latent_dim): from the fitted sampler if one is attached and not ``from_prior``,
        else from the prior N(0, I)."""
        device = next(self.parameters()).device
        if self.sampler is not None and not from_prior:
            return self.sampler.draw(n, generator=generator).to(device)
        eps = torch.randn(n, self.latent_dim, generator=generator)
        return self.prior_mean(n, y) + eps.to(device)

    @torch.no_grad()
    def sample(self, n, y=None, generator=None, from_prior=False):
        """n new images (n, C, H, W) in [-1, 1]: decoded codes from ``sample_codes``."""
        return self.decode(self.sample_codes(n, y, generator, from_prior), y)

    def sigma(self) -> float:
        """The Gaussian decoder's learned pixel noise sigma on the [-1, 1] scale (NaN for Bernoulli)."""
        if self.likelihood != "gaussian":
            return float("nan")
        return float(self.log_sigma.detach().clamp_min(LOG_SIGMA_MIN).exp())


def bernoulli_nll(raw, x):
    """Binary cross-entropy of the logits ``raw`` against the intensities (x + 1) / 2 in [0, 1],
    summed over all pixels of each image: (N, C, H, W) -> (N,) nats."""
    target = (x + 1.0) / 2.0
    return F.binary_cross_entropy_with_logits(raw, target, reduction="none").flatten(1).sum(dim=1)


class Labelled:
    """Images with their class ids, sliced together: what the training loop passes a conditional model.

    ``x[idx]``, ``len(x)`` and ``x.to(device)`` work as on an image tensor, so the lesson's
    ``train_epoch`` and ``evaluate`` take it unchanged; :func:`model_loss` unpacks it."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels: give one class id per image")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> Labelled:
        return Labelled(self.images[idx], self.labels[idx])

    def to(self, device) -> Labelled:
        return Labelled(self.images.to(device), self.labels.to(device))


def model_loss(model, batch, beta=1.0):
    """The lesson's vae_loss for every model of the package: {"loss", "recon", "kl"} in nats per image.

    batch: images (N, C, H, W) in [-1, 1], or :class:`Labelled` images for a conditional model. The
    reconstruction term is the model's likelihood (Gaussian with its learned sigma, or Bernoulli); the
    KL is against the model's prior. Terms summed over pixels and latent dimensions, then averaged
    over the N images, exactly as in notebook 02."""
    x, y = (batch.images, batch.labels) if isinstance(batch, Labelled) else (batch, None)
    mu, logvar = model.encode(x, y)
    raw = model.decode_raw(reparameterize(mu, logvar), y).float()  # float32 terms, even after a bfloat16 network
    mu, logvar = mu.float(), logvar.float()
    if model.likelihood == "gaussian":
        per_image = gaussian_nll(2 * torch.sigmoid(raw) - 1, x, model.log_sigma)
    else:
        per_image = bernoulli_nll(raw, x)
    terms = {"recon": per_image.mean(), "kl": model.kl(mu, logvar, y).mean()}
    terms["loss"] = terms["recon"] + beta * terms["kl"]
    return terms
