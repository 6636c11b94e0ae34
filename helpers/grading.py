"""What the test cells of notebook 02 check its tasks against: the visible checks of each task,
reference functions and a stand-in model.

A test of ``vae_loss`` (Task 4) must not fail because Task 2 or 3 is wrong, so it calls the student's
``vae_loss`` with these references in place of their ``kl_divergence`` and ``gaussian_nll``, on a
model whose outputs are fixed and known.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FixedOutputs", "gaussian_nll_checks", "kl_checks", "reparameterize_checks", "reference_gaussian_nll",
           "reference_kl", "stand_in_batch", "vae_loss_checks", "with_reference_terms"]


def reference_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, by torch.distributions: (N, D) -> (N,) nats."""
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)


def reference_gaussian_nll(x_hat: torch.Tensor, x: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """-log N(x; x_hat, sigma^2 I) per image, by torch.distributions: (N, ...) -> (N,) nats."""
    return -torch.distributions.Normal(x_hat, log_sigma.exp()).log_prob(x).flatten(1).sum(1)


class FixedOutputs(nn.Module):
    """A stand-in model: its forward pass returns the given (x_hat, mu, logvar); ``log_sigma`` = -1, learnable."""

    def __init__(self, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
        super().__init__()
        self.outputs = (x_hat, mu, logvar)
        self.log_sigma = nn.Parameter(torch.tensor(-1.0))

    def forward(self, x: torch.Tensor):
        return self.outputs

    def encode(self, x):
        raise AttributeError("the test's stand-in model has only model(x) and model.log_sigma: "
                             "use the x_hat, mu and logvar that vae_loss's first line takes from model(x)")

    decode = encode


def with_reference_terms(loss_fn, *args, **kwargs):
    """``loss_fn(*args, **kwargs)`` with the references as ``kl_divergence`` and ``gaussian_nll``.

    The names are swapped in the namespace ``loss_fn`` was defined in (the notebook's) for the one
    call, and put back afterwards, also when the call raises."""
    names = {"kl_divergence": reference_kl, "gaussian_nll": reference_gaussian_nll}
    namespace = loss_fn.__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in names}
    namespace.update(names)
    try:
        return loss_fn(*args, **kwargs)
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def stand_in_batch():
    """The batch the test of ``vae_loss`` uses: images x (4, 1, 28, 28), image i a flat grey level from
    -0.9 to 0.9, and a model whose forward pass returns x_hat = 0, mu = i in all 3 dims of image i
    (KL 1.5 i^2 = 0, 1.5, 6, 13.5: 5.25 on average) and logvar = 0, with log sigma = -1.
    Returns (model, x, per_image): per_image (4,) the reference reconstruction term, nats."""
    x = torch.linspace(-0.9, 0.9, 4)[:, None, None, None].expand(4, 1, 28, 28).contiguous()
    mu = torch.arange(4.0)[:, None].expand(4, 3).contiguous()
    model = FixedOutputs(torch.zeros(4, 1, 28, 28), mu, torch.zeros(4, 3))
    per_image = reference_gaussian_nll(torch.zeros(4, 1, 28, 28), x, model.log_sigma).detach()
    return model, x, per_image


def vae_loss_checks(loss_fn, beta: float = 2.0) -> dict:
    """The visible checks of notebook 02's Task 4: ``loss_fn`` (the student's ``vae_loss``) on the
    stand-in batch, with the reference KL and likelihood. Raises AssertionError with what was
    expected and what came back; returns the terms (scalar tensors) when every check passes."""
    model, x, per_image = stand_in_batch()
    terms = with_reference_terms(loss_fn, model, x, beta=beta)
    assert isinstance(terms, dict) and set(terms) == {"loss", "recon", "kl"}, \
        f"return a dict with the keys loss, recon and kl, not {sorted(terms) if isinstance(terms, dict) else type(terms).__name__}"
    kinds = {k: tuple(v.shape) if torch.is_tensor(v) else type(v).__name__ for k, v in terms.items()}
    assert all(torch.is_tensor(v) and v.shape == () for v in terms.values()), \
        f"each term must be a scalar tensor, shape (): got {kinds}"
    got = {k: v.item() for k, v in terms.items()}
    recon = per_image.mean().item()
    assert math.isclose(got["kl"], 5.25, rel_tol=1e-5), \
        f"KL in nats per image (summed over dims, mean over images) is 5.25, got {got['kl']:.4g}"
    assert math.isclose(got["recon"], recon, rel_tol=1e-5), \
        (f"recon in nats per image (summed over pixels, mean over images) is {recon:.2f}, got {got['recon']:.4g}: "
         "gaussian_nll(x_hat, x, model.log_sigma), with the model's own log sigma")
    assert math.isclose(got["loss"], recon + beta * 5.25, rel_tol=1e-5), \
        f"loss = recon + beta * KL = {recon:.2f} + {beta:g} * 5.25 = {recon + beta * 5.25:.2f}, got {got['loss']:.2f}"
    assert terms["loss"].requires_grad, \
        "the loss must carry the gradient back to the model: no .item(), torch.tensor(...), torch.no_grad() or .detach()"
    return terms


def reparameterize_checks(fn) -> torch.Tensor:
    """The visible checks of notebook 02's Task 1: 100,000 draws of ``fn(mu, logvar)`` with
    mu = (0.5, -1) and sigma = (2, 0.5) have the shape of mu, mean mu and spread sigma, and the two
    dimensions' noise is independent (correlation near 0); and the gradient of z reaches mu (dz/dmu = 1)
    and logvar. The draws use their own random stream (seed 1); the caller's stream is left as it
    was. Returns the draws."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        mu = torch.tensor([[0.5, -1.0]]).repeat(100_000, 1)
        logvar = torch.log(torch.tensor([[4.0, 0.25]])).repeat(100_000, 1)  # sigma = (2, 0.5)
        z = fn(mu, logvar)
    assert torch.is_tensor(z) and z.shape == (100_000, 2), \
        f"z must have the shape of mu, (N, latent_dim) = (100000, 2), not {tuple(z.shape) if torch.is_tensor(z) else type(z).__name__}"
    assert bool((z[1:] != z[:1]).any()), \
        "every row of z came out the same: each entry needs its own noise, eps of mu's shape (N, latent_dim)"
    corr = torch.corrcoef(z.T.float())[0, 1].item()
    assert abs(corr) < 0.05, \
        (f"the two columns of z move together (correlation {corr:.2f}, independent noise gives about 0): "
         "each entry needs its own noise, eps of mu's shape (N, latent_dim), not one eps per image")
    assert torch.allclose(z.mean(0), torch.tensor([0.5, -1.0]), atol=0.03), f"the mean of z must be mu = (0.5, -1): got {z.mean(0)}"
    assert torch.allclose(z.std(0), torch.tensor([2.0, 0.5]), rtol=0.03), \
        f"the spread of z must be sigma = exp(logvar / 2) = (2, 0.5): got {z.std(0)}"
    with torch.random.fork_rng(devices=[]):
        mu_g = torch.zeros(3, 4, requires_grad=True)
        lv_g = torch.zeros(3, 4, requires_grad=True)
        fn(mu_g, lv_g).sum().backward()
    assert mu_g.grad is not None and torch.allclose(mu_g.grad, torch.ones(3, 4)), \
        (f"dz/dmu must be 1 for every entry (mu, logvar = 0, the sum of z differentiated): got {mu_g.grad}. "
         "Compute z = mu + sigma * eps with tensor operations: a sampler such as torch.normal(mu, sigma) passes no gradient")
    assert lv_g.grad is not None and lv_g.grad.abs().sum() > 0, \
        f"the gradient must reach logvar (dz/dlogvar = sigma * eps / 2, not 0): got {lv_g.grad}"
    return z


def kl_checks(fn) -> torch.Tensor:
    """The visible checks of notebook 02's Task 2: ``fn(mu, logvar)`` on three images with known KL
    (0, 2.5 and (4 - 1 - ln 4) / 2), one value per image. Returns what ``fn`` gave."""
    kl = fn(torch.tensor([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]]),
            torch.tensor([[0.0, 0.0], [0.0, 0.0], [math.log(4.0), 0.0]]))
    assert torch.is_tensor(kl) and kl.shape == (3,), \
        f"one KL per image, shape (N,) = (3,), not {tuple(kl.shape) if torch.is_tensor(kl) else type(kl).__name__}"
    expected = torch.tensor([0.0, 2.5, 0.5 * (4 - 1 - math.log(4))])
    assert torch.allclose(kl.float(), expected, atol=1e-5), \
        f"mu = 0 and sigma = 1 give 0; mu = (1, 2) gives (1 + 4) / 2 = 2.5; sigma^2 = 4 gives (4 - 1 - ln 4) / 2 = 0.807: got {kl}"
    return kl


def gaussian_nll_checks(fn) -> torch.Tensor:
    """The visible checks of notebook 02's Task 3: ``fn(x_hat, x, log_sigma)`` with sigma = 0.5 on two
    black images, decoded exactly and 0.5 off in every pixel. Returns what ``fn`` gave (2,), nats."""
    x = torch.zeros(2, 1, 28, 28)
    x_hat = torch.stack([torch.zeros(1, 28, 28), torch.full((1, 28, 28), 0.5)])  # exact, then 0.5 off everywhere
    nll = fn(x_hat, x, torch.tensor(math.log(0.5)))
    assert torch.is_tensor(nll) and nll.shape == (2,), \
        f"one value per image, shape (N,) = (2,), not {tuple(nll.shape) if torch.is_tensor(nll) else type(nll).__name__}"
    exact = 784 * (math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(nll.float(), torch.tensor([exact, exact + 784 * 0.5]), atol=1e-2), \
        (f"sigma = 0.5: a perfect image costs 784 (ln 0.5 + ln(2 pi) / 2) = {exact:.2f} nats, one 0.5 off in every pixel "
         f"784 * 0.25 / (2 * 0.25) = 392 more: got {nll.tolist()}")
    return nll
