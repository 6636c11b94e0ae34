"""Seeding, device choice, and the plumbing around the training epoch that notebook 02 teaches.

:func:`train_vae` runs the lesson's ``train_epoch`` (helpers.vae, or the notebook's own copy
passed as ``train_epoch=``) once per epoch and adds what a lab needs around it: one progress bar,
a test evaluation and a history entry per epoch, an atomic checkpoint after every epoch, exact
resume, and a stop with a clear message if the loss is no longer finite.

The training recipe is chosen here too: the learning-rate schedule (constant, or one-cycle:
warm up to the peak rate, then anneal, Smith & Topin 2019), a faster rate for the Gaussian
decoder's one noise parameter log sigma, the numeric precision (bfloat16 autocast only where the
hardware computes it natively).

Reproducibility lives here, in one place: :func:`set_seed` seeds Python, NumPy and PyTorch, and
the loop re-seeds PyTorch at the start of every epoch from (seed, epoch), so an interrupted run
resumed from its checkpoint continues with exactly the random numbers the uninterrupted run used.
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

from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .config import ParameterError, check_parameters
from .vae import ConvVAE, train_epoch as lesson_train_epoch, vae_loss

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
    """None for "constant"; for "one-cycle" a torch OneCycleLR over ``total_steps`` optimizer steps:
    each group's rate rises from its peak / 25 to its peak over the first 30 % of the steps, then
    falls along a cosine to peak / 25e4 (Adam's beta1 moves 0.95 -> 0.85 -> 0.95 the other way)."""
    check_parameters(LR_SCHEDULE=schedule)
    if schedule == "constant":
        return None
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
        if scheduler is not None:
            scheduler.step()
    return rates


#: what a checkpoint saved before the recipe was recorded was trained with
_PLAIN = {"schedule": "constant", "sigma_lr_factor": 1.0}


def _check_same_run(checkpoint, saved: dict, **now) -> None:
    """Resuming continues the saved run exactly, so its settings must be the ones asked for now
    (a constant-rate run may be resumed for more epochs: its later steps do not depend on the total)."""
    then = {k: saved.get(k, _PLAIN.get(k)) for k in now}  # None: not recorded, nothing to compare
    if now["schedule"] == then["schedule"] == "constant":
        del now["epochs"]
    differ = [f"{k}={then[k]!r} there, {k}={v!r} now" for k, v in now.items() if then[k] not in (None, v)]
    if differ:
        raise ParameterError(
            f"RESUME=True is not allowed here: {checkpoint} was trained with other settings ("
            + "; ".join(differ) + "). Resume with the same settings, or set RESUME = False (or another "
            "CHECKPOINT_OUT) to start a new run.")


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN or infinite)."""


@torch.no_grad()
def evaluate(model: ConvVAE, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0,
             batch_size: int = 1000, seed: int = 0, loss=vae_loss) -> dict:
    """Mean loss, recon and kl (per image, nats) of ``model`` on x (N, 1, 28, 28) in [-1, 1].

    One reparameterized sample per image, drawn from a fixed seed so the figure is repeatable.
    ``loss``: the function that computes the terms (helpers.vae.vae_loss, or notebook 02's own).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cpu_rng = torch.random.get_rng_state()
    torch.manual_seed(seed)
    sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    y = torch.zeros(len(x), dtype=torch.long) if y is None else y
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        terms = loss(model, xb.to(device), yb.to(device), beta=beta)
        for k in sums:
            sums[k] += terms[k].item() * len(xb)
    torch.random.set_rng_state(cpu_rng)
    model.train(was_training)
    return {k: v / len(x) for k, v in sums.items()}


def train_vae(model: ConvVAE, train_x: torch.Tensor, train_y: torch.Tensor,
              test_x: torch.Tensor | None = None, test_y: torch.Tensor | None = None, *,
              epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, beta: float = 1.0,
              seed: int = 0, device: str | torch.device = "auto", checkpoint: str | Path | None = None,
              resume: bool = False, progress: bool = True, config: dict | None = None,
              schedule: str = "constant", sigma_lr_factor: float = 1.0, precision: str = "fp32",
              train_epoch=lesson_train_epoch, loss=vae_loss) -> dict:
    """Train ``model`` with Adam on the negative ELBO (or the beta-VAE objective); return its history.

    train_x / test_x: float (N, 1, 28, 28) in [-1, 1]; train_y / test_y: long (N,) class ids (a
    conditional model uses them, the plain VAE ignores them). One tqdm bar covers the whole run;
    after every epoch one line reports the epoch's train and test figures, the history (per-epoch
    means of loss / recon / kl on train and test, and epoch seconds) is updated and, when
    ``checkpoint`` is given, model, optimizer and history are saved there atomically.
    ``resume=True`` continues from that checkpoint's last finished epoch.

    The recipe: ``lr`` is Adam's rate, constant (``schedule="constant"``) or the peak of a
    one-cycle schedule stepped after every batch (``"one-cycle"``, :func:`make_scheduler`);
    ``sigma_lr_factor`` multiplies the rate of a Gaussian decoder's log sigma; ``precision``
    "fp32", "bf16" (autocast) or "auto" (:func:`choose_precision`). The defaults are the plain
    recipe (constant rate, float32) that the shipped checkpoints, the study and notebook 06 were
    made with; notebook 02's default run passes its faster one.

    ``train_epoch`` and ``loss`` are the lesson's functions (helpers.vae by default; notebook 02
    passes its own cells', so a student's code is what trains and what the test column measures).

    Raises TrainingError if an epoch's loss is NaN or infinite (the last good checkpoint is kept).
    """
    check_parameters(EPOCHS=epochs, BATCH_SIZE=batch_size, BETA=beta, LEARNING_RATE=lr, LR_SCHEDULE=schedule,
                     SIGMA_LR_FACTOR=sigma_lr_factor)
    device = choose_device(device) if isinstance(device, str) else device
    picked, _ = choose_precision(precision, device)
    model.sampler = None  # a fitted sampler describes the old weights' codes: re-fit after training
    model.to(device)
    opt = make_optimizer(model, lr, sigma_lr_factor)
    scheduler = make_scheduler(opt, schedule, epochs * math.ceil(len(train_x) / batch_size))
    history = {k: [] for k in HISTORY_KEYS}
    start_epoch = 0
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = read_checkpoint(checkpoint)
        _check_same_run(checkpoint, state.get("config", {}), epochs=epochs, batch_size=batch_size, lr=lr,
                        beta=beta, seed=seed, schedule=schedule, sigma_lr_factor=sigma_lr_factor)
        model.load_state_dict(load_checkpoint(checkpoint).state_dict())
        if "training_state" in state:
            opt.load_state_dict(state["training_state"]["optimizer"])
            if scheduler is not None and "scheduler" in state["training_state"]:
                scheduler.load_state_dict(state["training_state"]["scheduler"])
            start_epoch = int(state["training_state"]["epoch"])
        history = {k: list(state["history"].get(k, [])) for k in HISTORY_KEYS}
    run_config = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "beta": beta, "seed": seed,
                  "train_size": len(train_x), "schedule": schedule, "sigma_lr_factor": sigma_lr_factor,
                  "precision": picked, **(config or {})}
    extra = {"scheduler": scheduler} if scheduler is not None else {}  # older train_epoch copies take none
    if picked == "bf16":
        extra["precision"] = "bf16"  # train_epoch enters autocast around each forward pass, never around the epoch
    bar = tqdm(total=(epochs - start_epoch) * len(train_x), unit="img", disable=not progress,
               desc=f"{epochs - start_epoch} epochs", mininterval=1.0)
    for epoch in range(start_epoch, epochs):
        torch.manual_seed(seed * 1_000_003 + epoch)  # per-epoch stream: resuming repeats it exactly
        order_rng = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        t0 = time.perf_counter()
        means = train_epoch(model, opt, train_x, train_y, batch_size, beta, order_rng, bar, **extra)
        if not all(map(math.isfinite, means.values())):
            bar.close()
            raise TrainingError(
                f"The loss became {means['loss']} in epoch {epoch + 1}. Lower the learning rate or "
                f"BETA, or check the data scaling; the last good checkpoint "
                f"({checkpoint or 'none saved'}) is kept."
            )
        for k, v in means.items():
            history[f"train_{k}"].append(v)
        if test_x is not None:
            for k, v in evaluate(model, test_x, test_y, beta=beta, loss=loss).items():
                history[f"test_{k}"].append(v)
        history["epoch_seconds"].append(time.perf_counter() - t0)
        if progress:
            test_part = f", test {history['test_loss'][-1]:8.2f}" if test_x is not None else ""
            bar.write(f"epoch {epoch + 1:2d}: train loss {means['loss']:8.2f} (recon {means['recon']:8.2f}, "
                      f"KL {means['kl']:6.2f}){test_part}, {history['epoch_seconds'][-1]:4.1f} s")
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, config=run_config, history=history,
                            training_state={"optimizer": opt.state_dict(), "epoch": epoch + 1,
                                            **({"scheduler": scheduler.state_dict()} if scheduler else {})})
    bar.close()
    model.eval()
    model.history = history
    model.config = run_config
    return history
