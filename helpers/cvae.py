"""The conditional VAE (notebook 05): the lesson's ConvVAE (as helpers.image_vae.ImageVAE), told the class y too.

The one-hot class is appended to the encoder's features and to z, and is given to both
transposed convolutions as 10 constant extra channels. The prior is class-conditional,
p(z|y) = N(m_y, I) with a learned mean m_y per class: the KL then charges only for z - m_y, so
the class sits in m_y for free and z - m_y holds the style. (With an N(0, I) prior and the class
only beside z, the model kept the class in z and ignored the label: 0.353 class match.)

Shapes: x (N, 1, 28, 28) in [-1, 1], y long (N,) in 0..9 (one id for all N is broadcast),
z (N, latent_dim).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .data import NUM_CLASSES
from .image_vae import ImageVAE
from .vae import kl_divergence


class ConditionalVAE(ImageVAE):
    """ImageVAE with the class y given to encoder, decoder and prior; ``num_classes == 10``."""

    conditional = True
    num_classes = NUM_CLASSES

    def __init__(self, latent_dim=16, hidden=128, channels=None, likelihood="gaussian", image_shape=(1, 28, 28)):
        if tuple(image_shape) != (1, 28, 28) or (channels is not None and len(channels) != 2):
            raise ValueError(f"image_shape={tuple(image_shape)!r}, channels={channels!r}: the conditional VAE is made "
                             f"for Fashion-MNIST's (1, 28, 28) images and two convolutions; use ImageVAE for other shapes")
        rng = torch.random.get_rng_state()
        super().__init__(latent_dim, hidden, channels, likelihood)
        # Rebuild the layers that take the class, initialising every layer in the base class's
        # order from the same random state: the same seed gives the same weights as ever.
        torch.random.set_rng_state(rng)
        c1, c2 = self.channels
        nc = self.num_classes
        self.enc_conv[0].reset_parameters()
        self.enc_conv[2].reset_parameters()
        self.enc_fc = nn.Sequential(nn.Linear(c2 * 7 * 7 + nc, hidden), nn.ReLU())
        self.enc_out.reset_parameters()
        self.dec_fc = nn.Sequential(nn.Linear(self.latent_dim + nc, hidden), nn.ReLU(),
                                    nn.Linear(hidden, c2 * 7 * 7), nn.ReLU())
        self.dec_conv = nn.Sequential(nn.ConvTranspose2d(c2 + nc, c1, 4, 2, 1), nn.ReLU(),
                                      nn.ConvTranspose2d(c1 + nc, 1, 4, 2, 1))
        #: the class-conditional prior's means m_y: (num_classes, latent_dim), learned
        self.prior_mu = nn.Parameter(torch.zeros(nc, self.latent_dim))

    def class_ids(self, y, n: int) -> torch.Tensor:
        """y as a long tensor (n,) on the model's device, checked; one id is broadcast to all n."""
        if y is None:
            raise ValueError("this model is conditional: pass class ids y, a long tensor (N,) in 0..9")
        y = torch.as_tensor(y, device=next(self.parameters()).device).long().reshape(-1)
        if y.numel() == 1 and n != 1:
            y = y.expand(n)
        if y.numel() != n:
            raise ValueError(f"got {y.numel()} class ids for {n} items")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"class ids must be in 0..{self.num_classes - 1}, got {y.tolist()[:10]}")
        return y

    def _onehot(self, y, n: int) -> torch.Tensor:
        return F.one_hot(self.class_ids(y, n), self.num_classes).float()

    def encode(self, x, y=None):
        h = torch.cat([self.enc_conv(x), self._onehot(y, x.shape[0])], dim=1)
        mu, logvar = self.enc_out(self.enc_fc(h)).chunk(2, dim=1)
        return mu, logvar

    def decode_raw(self, z, y=None):
        oh = self._onehot(y, z.shape[0])
        h = self.dec_fc(torch.cat([z, oh], dim=1)).view(-1, self.channels[1], 7, 7)
        up1, relu, up2 = self.dec_conv
        h = relu(up1(torch.cat([h, oh[:, :, None, None].expand(-1, -1, 7, 7)], dim=1)))
        return up2(torch.cat([h, oh[:, :, None, None].expand(-1, -1, 14, 14)], dim=1))

    def prior_mean(self, n, y=None):
        """m_y for each of the n items: (n, latent_dim) (rows of prior_mu: exact, in float32 under autocast too)."""
        return self.prior_mu[self.class_ids(y, n)]

    def kl(self, mu, logvar, y=None):
        """KL(q(z|x, y) || N(m_y, I)) per item: (N,) nats."""
        return kl_divergence(mu - self.prior_mean(mu.shape[0], y), logvar)

    @torch.no_grad()
    def sample_codes(self, n, y=None, generator=None, from_prior=False):
        """n codes (n, latent_dim) for classes y: from class y's fitted mixture, else from N(m_y, I)."""
        y = self.class_ids(y, n)
        if self.sampler is not None and not from_prior:
            return self.sampler.draw(n, y, generator).to(y.device)
        return super().sample_codes(n, y, generator, from_prior=True)
