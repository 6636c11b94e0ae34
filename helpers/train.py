"""Seeding, device choice and the training loop (taught in notebook 02).

Reproducibility lives here, in one place: :func:`set_seed` seeds Python, NumPy and PyTorch, and
the loop re-seeds PyTorch at the start of every epoch from (seed, epoch), so an interrupted run
resumed from its checkpoint continues with exactly the random numbers the uninterrupted run used.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch

from .config import ParameterError, check_choice, check_nonnegative_float, check_positive_int
from .model import ConvVAE, load_checkpoint, read_checkpoint, save_checkpoint, vae_loss

DEVICES = ("auto", "cpu", "cuda", "mps")
HISTORY_KEYS = ("train_loss", "train_recon", "train_kl", "test_loss", "test_recon", "test_kl",
                "epoch_seconds")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch, and ask PyTorch for deterministic kernels where it has them."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


def choose_device(device: str = "auto") -> torch.device:
    """"auto" -> CUDA if present, else Apple MPS, else CPU; or the one named.

    Asking for "cuda" or "mps" where there is none raises a ParameterError that says so.
    """
    check_choice("DEVICE", device, DEVICES)
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if device == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (device == "cuda" and not cuda) or (device == "mps" and not mps):
        raise ParameterError(
            f"DEVICE={device!r} is not allowed: no {device.upper()} device is available on this "
            f"machine. Use DEVICE='auto' (picks the best available) or DEVICE='cpu'."
        )
    return torch.device(device)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


def _batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


@torch.no_grad()
def evaluate(model: ConvVAE, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0,
             batch_size: int = 1000, seed: int = 0) -> dict:
    """Mean loss, recon and kl (per image, nats) of ``model`` on x (N, 1, 28, 28) in [-1, 1].

    One reparameterized sample per image, drawn from a fixed seed so the figure is repeatable.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cpu_rng = torch.random.get_rng_state()
    torch.manual_seed(seed)
    sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        yb = None if y is None else y[start:start + batch_size].to(device)
        terms = vae_loss(model, xb, yb, beta=beta)
        for k in sums:
            sums[k] += terms[k].item() * len(xb)
    torch.random.set_rng_state(cpu_rng)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


def train_vae(model: ConvVAE, train_x: torch.Tensor, train_y: torch.Tensor,
              test_x: torch.Tensor | None = None, test_y: torch.Tensor | None = None, *,
              epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, beta: float = 1.0,
              seed: int = 0, device: str | torch.device = "auto", checkpoint: str | Path | None = None,
              resume: bool = False, progress: bool = True, config: dict | None = None) -> dict:
    """Train ``model`` with Adam on the negative ELBO (or the beta-VAE objective); return its history.

    train_x / test_x: float (N, 1, 28, 28) in [-1, 1]; train_y / test_y: long (N,) class ids (used
    by a conditional model only). A tqdm bar shows progress per batch. After every epoch the
    history (per-epoch means of loss / recon / kl on train and test, and epoch seconds) is
    updated and, when ``checkpoint`` is given, the model, optimizer and history are saved there
    atomically. ``resume=True`` continues from that checkpoint's last finished epoch.

    Raises TrainingError if the loss becomes NaN or infinite (the last good checkpoint is kept).
    """
    from tqdm.auto import tqdm

    check_positive_int("EPOCHS", epochs)
    check_positive_int("BATCH_SIZE", batch_size)
    check_nonnegative_float("BETA", beta)
    check_nonnegative_float("LEARNING_RATE", lr, positive=True)
    device = choose_device(device) if isinstance(device, str) else device
    model.sampler = None  # a fitted sampler describes the old weights' codes: re-fit after training
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {k: [] for k in HISTORY_KEYS}
    start_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = read_checkpoint(checkpoint)
        model.load_state_dict(load_checkpoint(checkpoint).state_dict())
        model.to(device)
        if "training_state" in state:
            opt.load_state_dict(state["training_state"]["optimizer"])
            start_epoch = int(state["training_state"]["epoch"])
        history = {k: list(state["history"].get(k, [])) for k in HISTORY_KEYS}
    run_config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "beta": beta, "seed": seed,
                  "train_size": len(train_x), **(config or {})}
    use_y = model.conditional
    for epoch in range(start_epoch, epochs):
        torch.manual_seed(seed * 1_000_003 + epoch)  # per-epoch stream: resuming repeats it exactly
        order_rng = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        model.train()
        t0 = time.perf_counter()
        sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
        bar = tqdm(total=len(train_x), desc=f"epoch {epoch + 1}/{epochs}", unit="img",
                   disable=not progress, leave=True)
        for idx in _batches(len(train_x), batch_size, order_rng):
            xb = train_x[idx].to(device)
            yb = train_y[idx].to(device) if use_y else None
            terms = vae_loss(model, xb, yb, beta=beta)
            if not torch.isfinite(terms["loss"]):
                bar.close()
                raise TrainingError(
                    f"The loss became {terms['loss'].item()} in epoch {epoch + 1}. Lower the "
                    f"learning rate or BETA, or check the data scaling; the last good checkpoint "
                    f"({checkpoint or 'none saved'}) is kept."
                )
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            for k in sums:
                sums[k] += terms[k].item() * len(idx)
            bar.update(len(idx))
            bar.set_postfix(loss=f"{terms['loss'].item():.1f}", kl=f"{terms['kl'].item():.1f}")
        bar.close()
        for k in sums:
            history[f"train_{k}"].append(sums[k] / len(train_x))
        if test_x is not None:
            ev = evaluate(model, test_x, test_y if use_y else None, beta=beta)
            for k in ev:
                history[f"test_{k}"].append(ev[k])
        history["epoch_seconds"].append(time.perf_counter() - t0)
        if progress:
            test_part = (f", test loss {history['test_loss'][-1]:.2f}" if test_x is not None else "")
            print(f"epoch {epoch + 1}: train loss {history['train_loss'][-1]:.2f} "
                  f"(recon {history['train_recon'][-1]:.2f}, kl {history['train_kl'][-1]:.2f})"
                  f"{test_part}, {history['epoch_seconds'][-1]:.1f} s")
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, config=run_config, history=history,
                            training_state={"optimizer": opt.state_dict(), "epoch": epoch + 1})
    model.eval()
    model.history = history
    model.config = run_config
    return history

