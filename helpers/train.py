"""Seeding, device choice, and the plumbing around the training loop that notebook 02 teaches.

Notebook 02 shows the loop (``fit``: ``train_epoch``, ``evaluate``, one line per epoch; exported to
helpers.vae). :class:`TrainingRun` is what a lab needs around it, in small calls the loop makes:
one progress bar, the shuffled and seeded batches of each epoch, a history entry and a report line
per epoch, an atomic checkpoint after every epoch, exact resume, and a stop with a clear message if
the loss is no longer finite. :func:`train_vae` builds the optimizer, schedule and run for the
package's models (helpers.image_vae, helpers.cvae) and trains them through that same ``fit``.

The recipe is chosen here for the package's callers: the learning-rate schedule (constant, or
one-cycle: warm up to the peak rate, then anneal, Smith & Topin 2019), a faster rate for the
Gaussian decoder's one noise parameter log sigma, the numeric precision (bfloat16 autocast only
where the hardware computes it natively).

Reproducibility lives here, in one place: :func:`set_seed` seeds Python, NumPy and PyTorch, and
:meth:`TrainingRun.shuffled_batches` re-seeds PyTorch at the start of every epoch from (seed,
epoch), so an interrupted run resumed from its checkpoint continues with exactly the random numbers
the uninterrupted run used.
"""

from __future__ import annotations

import math
import random
import re
import time
from pathlib import Path

import numpy as np
import torch

from tqdm.auto import tqdm

from .checkpoint import read_checkpoint, save_checkpoint
from .config import ParameterError, check_parameters
from .image_vae import ImageVAE, Labelled, model_loss
from .vae import evaluate, fit

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
    check_parameters(DEVICE=device)
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if device == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (device == "cuda" and not cuda) or (device == "mps" and not mps):
        raise ParameterError(
            f"DEVICE={device!r} is not allowed: no {device.upper()} device is available on this "
            f"machine. Use DEVICE='auto' (picks the best available) or DEVICE='cpu'."
        )
    return torch.device(device)


#: one-cycle: share of the steps spent warming up from peak/25 to the peak rate (then cosine down)
WARMUP_SHARE = 0.3


def _cpu_flags() -> str:
    """The CPU's feature flags as Linux lists them ('' elsewhere: macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def native_bf16(device: torch.device) -> bool:
    """True where bfloat16 arithmetic is native: a CUDA GPU that supports it, or a CPU with the
    AVX-512 BF16 or AMX instructions (flags avx512_bf16 / amx_bf16). False for Apple MPS and
    other CPUs, where bfloat16 would be emulated and slower than float32."""
    if device.type == "cuda":  # compute capability 8.0 (Ampere) or newer; older GPUs only emulate it
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type == "cpu":
        return re.search(r"\b(avx512_bf16|amx_bf16)\b", _cpu_flags()) is not None
    return False


def choose_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """("bf16" or "fp32", the reason in words) for PRECISION "auto", "fp32" or "bf16" on ``device``.

    "bf16": each forward pass of the network runs under bfloat16 autocast (convolutions and matrix
    products in bfloat16); the loss, the weights and the optimizer stay float32. "auto" picks it
    only where the hardware has native bfloat16, else float32."""
    check_parameters(PRECISION=precision)
    if precision != "auto":
        return precision, f"PRECISION={precision!r} was asked for"
    if native_bf16(device):
        what = "this GPU supports bfloat16" if device.type == "cuda" else "this CPU has native bfloat16 (AVX-512 BF16 / AMX)"
        return "bf16", f"{what}: autocast computes convolutions and matrix products in bfloat16"
    return "fp32", (f"no native bfloat16 on this {device.type.upper()} (it would be emulated, slower): "
                    f"float32")


def make_optimizer(model: torch.nn.Module, lr: float, sigma_lr_factor: float = 1.0) -> torch.optim.Adam:
    """Adam at rate ``lr``; a Gaussian decoder's ``log_sigma`` (one number) in a group of its own at
    ``lr * sigma_lr_factor`` when the factor is not 1 (one group, exactly as before, when it is)."""
    named = list(model.named_parameters())
    sigma = [p for n, p in named if n == "log_sigma"]
    if sigma_lr_factor == 1.0 or not sigma:
        return torch.optim.Adam(model.parameters(), lr=lr)
    rest = [p for n, p in named if n != "log_sigma"]
    return torch.optim.Adam([{"params": rest, "lr": lr}, {"params": sigma, "lr": lr * sigma_lr_factor}], lr=lr)


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int):
    """For "constant" a schedule that keeps every rate (LambdaLR by 1); for "one-cycle" a torch
    OneCycleLR over ``total_steps`` optimizer steps:
    each group's rate rises from its peak / 25 to its peak over the first 30 % of the steps, then
    falls along a cosine to peak / 25e4 (Adam's beta1 moves 0.95 -> 0.85 -> 0.95 the other way)."""
    check_parameters(LR_SCHEDULE=schedule)
    if schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups],
                                               total_steps=max(total_steps, 2), pct_start=WARMUP_SHARE)


def planned_rates(schedule: str, lr: float, total_steps: int) -> list[float]:
    """The learning rate of each of ``total_steps`` optimizer steps under ``schedule`` with peak
    (or constant) rate ``lr``, as train_vae will use it for the weights: a list of floats."""
    probe = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(probe, schedule, total_steps)
    rates = []
    for _ in range(total_steps):
        rates.append(probe.param_groups[0]["lr"])
        probe.step()  # no gradient: a no-op step, so the scheduler may follow it
        scheduler.step()
    return rates


#: what a checkpoint saved before the recipe was recorded was trained with
_PLAIN = {"schedule": "constant", "sigma_lr_factor": 1.0}
#: the settings a resumed run must share with the run it continues
RESUME_KEYS = ("epochs", "batch_size", "lr", "beta", "seed", "schedule", "sigma_lr_factor")


def _check_same_run(checkpoint, saved: dict, now: dict) -> None:
    """Resuming continues the saved run exactly, so its settings must be the ones asked for now
    (a constant-rate run may be resumed for more epochs: its later steps do not depend on the total)."""
    now = {k: now[k] for k in RESUME_KEYS if k in now}
    then = {k: saved.get(k, _PLAIN.get(k)) for k in now}  # None: not recorded, nothing to compare
    if now.get("schedule") == then.get("schedule") == "constant":
        now.pop("epochs", None)
    differ = [f"{k}={then[k]!r} there, {k}={v!r} now" for k, v in now.items() if then[k] not in (None, v)]
    if differ:
        raise ParameterError(
            f"RESUME=True is not allowed here: {checkpoint} was trained with other settings ("
            + "; ".join(differ) + "). Resume with the same settings, or set RESUME = False (or another "
            "CHECKPOINT_OUT) to start a new run.")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


class TrainingRun:
    """What a lab needs around the epoch loop of notebook 02 (its ``fit``), in three small calls.

        run = TrainingRun(model, optimizer, scheduler, EPOCHS, seed=SEED, checkpoint=path, resume=RESUME,
                          config={"batch_size": 256, "lr": 3e-3, ...})
        for epoch in range(run.first_epoch, run.epochs):        # a resumed run starts after its last epoch
            batches = run.shuffled_batches(len(x), batch_size, epoch)
            train = train_epoch(model, optimizer, scheduler, x, batches, ...)
            test = evaluate(model, test_x, ...)
            run.end_epoch(epoch, train, test)

    ``shuffled_batches`` seeds PyTorch for the epoch from (seed, epoch) and yields the index
    tensors of a new random order, batch by batch, advancing one progress bar for the whole run.
    ``end_epoch`` stops with :class:`TrainingError` if a figure is NaN or infinite (the last good
    checkpoint is kept), appends to ``history`` (train and test loss / recon / kl, epoch seconds),
    prints one line, and saves model, optimizer, schedule and history to ``checkpoint`` atomically.
    ``resume=True`` with an existing checkpoint loads all of them and sets ``first_epoch``; the
    settings in ``config`` that shape the run (RESUME_KEYS) must match the saved ones.
    """

    def __init__(self, model, optimizer, scheduler, epochs: int, *, seed: int = 0, checkpoint=None,
                 resume: bool = False, config: dict | None = None, progress: bool = True):
        check_parameters(EPOCHS=epochs, SEED=seed)
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.epochs, self.seed, self.progress = int(epochs), int(seed), progress
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.config = {"epochs": self.epochs, "seed": self.seed, **(config or {})}
        self.history = {k: [] for k in HISTORY_KEYS}
        self.first_epoch = 0
        self._bar, self._t0 = None, time.perf_counter()
        if getattr(model, "sampler", None) is not None:
            model.sampler = None  # a fitted sampler describes the old weights' codes: re-fit after training
        if resume and self.checkpoint is not None and self.checkpoint.is_file():
            self._resume()

    def _resume(self) -> None:
        state = read_checkpoint(self.checkpoint)
        _check_same_run(self.checkpoint, state.get("config", {}), self.config)
        device = next(self.model.parameters()).device
        self.model.load_state_dict({k: v.to(device) for k, v in state["state_dict"].items()})
        if "training_state" in state:
            self.optimizer.load_state_dict(state["training_state"]["optimizer"])
            if "scheduler" in state["training_state"]:
                self.scheduler.load_state_dict(state["training_state"]["scheduler"])
            self.first_epoch = int(state["training_state"]["epoch"])
        self.history = {k: list(state["history"].get(k, [])) for k in HISTORY_KEYS}

    def shuffled_batches(self, n: int, batch_size: int, epoch: int):
        """Seed PyTorch for ``epoch`` and return the batches of a new random order of range(n): an
        iterator of index tensors (the last may be shorter), advancing the progress bar."""
        check_parameters(BATCH_SIZE=batch_size)
        stream = self.seed * 1_000_003 + epoch
        torch.manual_seed(stream)  # this epoch's noise: a resumed run repeats it exactly
        order = torch.randperm(n, generator=torch.Generator().manual_seed(stream))
        if self._bar is None:
            self._bar = tqdm(total=(self.epochs - self.first_epoch) * n, unit="img", disable=not self.progress,
                             desc=f"{self.epochs - self.first_epoch} epochs", mininterval=1.0)
        self._t0 = time.perf_counter()
        return self._advancing(order.split(batch_size))

    def _advancing(self, batches):
        for idx in batches:
            yield idx
            self._bar.update(len(idx))

    def end_epoch(self, epoch: int, train: dict, test: dict | None = None) -> None:
        """Record epoch ``epoch`` (0-based): its train (and test) means {"loss", "recon", "kl"}."""
        figures = {**train, **(test or {})}.values()
        if not all(map(math.isfinite, figures)):
            self.close()
            raise TrainingError(
                f"The loss became {train['loss']} in epoch {epoch + 1}. Lower the learning rate or "
                f"BETA, or check the data scaling; the last good checkpoint "
                f"({self.checkpoint or 'none saved'}) is kept.")
        for k, v in train.items():
            self.history[f"train_{k}"].append(v)
        for k, v in (test or {}).items():
            self.history[f"test_{k}"].append(v)
        self.history["epoch_seconds"].append(time.perf_counter() - self._t0)
        if self.progress:
            test_part = f", test {test['loss']:8.2f}" if test else ""
            line = (f"epoch {epoch + 1:2d}: train loss {train['loss']:8.2f} (recon {train['recon']:8.2f}, "
                    f"KL {train['kl']:6.2f}){test_part}, {self.history['epoch_seconds'][-1]:4.1f} s")
            (self._bar.write if self._bar is not None else print)(line)
        if self.checkpoint is not None:
            save_checkpoint(self.checkpoint, self.model, config=self.config, history=self.history,
                            training_state={"optimizer": self.optimizer.state_dict(), "epoch": epoch + 1,
                                            "scheduler": self.scheduler.state_dict()})
        if epoch + 1 == self.epochs:
            self.close()

    def close(self) -> None:
        """Close the progress bar; the model goes to eval mode with ``history`` and ``config`` attached."""
        if self._bar is not None:
            self._bar.close()
        self.model.eval()
        self.model.history, self.model.config = self.history, self.config


def elbo_terms(model, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0) -> dict:
    """Mean loss, recon and kl (per image, nats) of a package model on x (N, C, H, W) in [-1, 1]:
    the lesson's ``evaluate`` (one z per image from a fixed seed) with :func:`model_loss`, the class
    ids y given to a conditional model."""
    return evaluate(model, Labelled(x, y) if getattr(model, "conditional", False) else x, beta, loss=model_loss)


def train_vae(model: ImageVAE, train_x: torch.Tensor, train_y: torch.Tensor,
              test_x: torch.Tensor | None = None, test_y: torch.Tensor | None = None, *,
              epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, beta: float = 1.0,
              seed: int = 0, device: str | torch.device = "auto", checkpoint: str | Path | None = None,
              resume: bool = False, progress: bool = True, config: dict | None = None,
              schedule: str = "constant", sigma_lr_factor: float = 1.0, precision: str = "fp32",
              loss=None) -> dict:
    """Train a package model (helpers.image_vae / helpers.cvae) through notebook 02's own ``fit``;
    return its history.

    train_x / test_x: float (N, C, H, W) in [-1, 1]; train_y / test_y: long (N,) class ids (a
    conditional model uses them, the others ignore them). The recipe: ``lr`` is Adam's rate,
    constant (``schedule="constant"``) or the peak of a one-cycle schedule stepped after every
    batch (``"one-cycle"``, :func:`make_scheduler`); ``sigma_lr_factor`` multiplies the rate of a
    Gaussian decoder's log sigma; ``precision`` "fp32", "bf16" (autocast) or "auto"
    (:func:`choose_precision`). The defaults are the plain recipe (constant rate, float32) of the
    study and notebook 06; notebook 02's recipe is one-cycle at 3e-3, batch 256, sigma factor 10.
    ``loss``: :func:`helpers.image_vae.model_loss` unless given (e.g. a notebook's own copy).
    Checkpoint, resume and NaN stop as :class:`TrainingRun`.
    """
    check_parameters(EPOCHS=epochs, BATCH_SIZE=batch_size, BETA=beta, LEARNING_RATE=lr, LR_SCHEDULE=schedule,
                     SIGMA_LR_FACTOR=sigma_lr_factor)
    device = choose_device(device) if isinstance(device, str) else device
    picked, _ = choose_precision(precision, device)
    model.to(device)
    optimizer = make_optimizer(model, lr, sigma_lr_factor)
    scheduler = make_scheduler(optimizer, schedule, epochs * math.ceil(len(train_x) / batch_size))
    run_config = {"batch_size": batch_size, "lr": lr, "beta": beta, "train_size": len(train_x),
                  "schedule": schedule, "sigma_lr_factor": sigma_lr_factor, "precision": picked, **(config or {})}
    run = TrainingRun(model, optimizer, scheduler, epochs, seed=seed, checkpoint=checkpoint, resume=resume,
                      config=run_config, progress=progress)
    if getattr(model, "conditional", False):
        train_x, test_x = Labelled(train_x, train_y), None if test_x is None else Labelled(test_x, test_y)
    return fit(model, optimizer, scheduler, run, train_x, test_x, batch_size, beta, picked, loss or model_loss)
