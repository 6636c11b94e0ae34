"""Checkpoints: save, load, export, with atomic writes and a format version.

A checkpoint file carries everything needed to rebuild its model (architecture, weights, fitted
sampler, training config and history, data normalization, format version), so
:func:`load_checkpoint` needs only the path. Files hold only tensors, numbers, strings, lists and
dicts and are read with ``weights_only=True``: loading never runs code from the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .cvae import ConditionalVAE
from .data import NUM_CLASSES
from .sampler import LatentMixture
from .image_vae import LESSON_CHANNELS, LESSON_SHAPE, ImageVAE
from .vae import ConvVAE

#: Bumped whenever the checkpoint layout changes; newer files are refused with a clear message.
CHECKPOINT_FORMAT = "vae-latent-lab checkpoint"
CHECKPOINT_VERSION = 1


def architecture(model: ConvVAE) -> dict:
    """The hyper-parameters that rebuild ``model``: see :func:`build_model`. The lesson's own ConvVAE
    (notebook 02) is recorded as the ImageVAE it equals: 28 x 28, two convolutions, Gaussian."""
    return {"latent_dim": int(model.latent_dim), "hidden": int(model.hidden),
            "channels": list(getattr(model, "channels", LESSON_CHANNELS)),
            "conditional": bool(getattr(model, "conditional", False)),
            "likelihood": getattr(model, "likelihood", "gaussian"),
            "image_shape": list(getattr(model, "image_shape", LESSON_SHAPE))}


def build_model(arch: dict) -> ImageVAE:
    """A fresh ImageVAE, or ConditionalVAE if ``arch["conditional"]``, from :func:`architecture`'s record.

    Records written before ``image_shape`` was stored are Fashion-MNIST models: (1, 28, 28)."""
    arch = dict(arch)
    cls = ConditionalVAE if arch.pop("conditional", False) else ImageVAE
    return cls(**arch)


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
        "arch": architecture(model),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "normalization": {"pixel_scale": "x = pixel / 127.5 - 1", "range": [-1.0, 1.0]},
        "config": dict(config or {}),
        "history": dict(history or {}),
    }
    if getattr(model, "sampler", None) is not None:
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


def load_checkpoint(path, device: str | torch.device = "cpu", conditional: bool | None = None) -> ImageVAE:
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
            f"parameter (CHECKPOINT, or CVAE_CHECKPOINT in notebook 05) at {want} checkpoint "
            f"such as checkpoints/{'cvae' if conditional else 'vae'}.pt."
        )
    model = build_model(arch)
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
                f"{path}: its fitted sampler does not fit the model (expected {NUM_CLASSES if model.conditional else 1} group(s) of "
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
