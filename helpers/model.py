"""The public model API in one import: ``from helpers.model import load_checkpoint``.

The VAE itself is taught in notebook 02 and exported from it to :mod:`helpers.vae` (edit the
notebook, then run ``python tools/export_lesson.py``); :class:`ImageVAE` (helpers.image_vae) is that
model with other image shapes, the Bernoulli decoder and a fitted sampler, and what
``load_checkpoint`` returns; the conditional VAE lives in
:mod:`helpers.cvae`, checkpoint I/O in :mod:`helpers.checkpoint`, the fitted sampler in
:mod:`helpers.sampler`. This module only gathers them.

    model = load_checkpoint("checkpoints/vae.pt")  # nn.Module in eval mode, on the CPU
    mu, logvar = model.encode(x)                    # x (N, 1, 28, 28) in [-1, 1] -> (N, latent_dim) each
    x_hat = model.decode(z)                         # z (N, latent_dim) -> (N, 1, 28, 28) in [-1, 1]
    x_new = model.sample(n)                         # n new images, from the fitted sampler if any
    # conditional models (model.conditional, model.num_classes == 10) also take class ids y
"""

from .checkpoint import (CheckpointError, architecture, build_model, export_checkpoint, load_checkpoint,
                         read_checkpoint, save_checkpoint, save_sampler)
from .cvae import ConditionalVAE
from .sampler import LatentMixture, fit_latent_mixture
from .image_vae import ImageVAE, model_loss
from .vae import ConvVAE, kl_divergence, reparameterize, vae_loss

__all__ = ["CheckpointError", "ConditionalVAE", "ConvVAE", "ImageVAE", "LatentMixture", "model_loss", "architecture", "build_model",
           "count_parameters", "export_checkpoint", "fit_latent_mixture", "kl_divergence", "load_checkpoint",
           "read_checkpoint", "reparameterize", "save_checkpoint", "save_sampler", "vae_loss"]


def count_parameters(model) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
