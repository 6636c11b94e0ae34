"""Training speed of the default ConvVAE beside the classic MLP VAE (784-400-20), and t-SNE time.

    .venv/bin/python benchmarks/train_speed.py [--images 12800] [--threads N]

Both models train on the same in-memory batches (batch 128, Adam) for ``--images`` images after
a warm-up; epoch time is that rate applied to the 60,000 training images. t-SNE runs on the
10,000 test codes of the shipped checkpoint. Figures print as a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn

from helpers.config import shipped_checkpoint_path
from helpers.data import load_fashion_mnist
from helpers.latent import encode_dataset, tsne_2d
from helpers.model import ConvVAE, count_parameters, kl_divergence, load_checkpoint, vae_loss


class MLPVAE(nn.Module):
    """The classic recipe (PyTorch examples / Kingma & Welling): 784-400-20, Bernoulli decoder."""

    conditional = False

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def loss(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.fc4(torch.relu(self.fc3(z)))
        recon = nn.functional.binary_cross_entropy_with_logits(
            logits, (x.flatten(1) + 1) / 2, reduction="none").sum(1)
        return (recon + kl_divergence(mu, logvar)).mean()


def images_per_second(model, x, loss_fn, n_images, batch_size=128):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for xb in x[:5 * batch_size].split(batch_size):  # warm-up
        loss = loss_fn(xb)
        opt.zero_grad(); loss.backward(); opt.step()
    t0 = time.perf_counter()
    seen = 0
    while seen < n_images:
        xb = x[seen % (len(x) - batch_size):][:batch_size]
        loss = loss_fn(xb)
        opt.zero_grad(); loss.backward(); opt.step()
        seen += len(xb)
    return seen / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=12800, help="images timed per model")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    x = train.scaled()
    conv = ConvVAE()
    mlp = MLPVAE()
    rows = []
    for name, model, fn in [("ConvVAE (default, latent 16, gaussian)", conv, lambda xb: vae_loss(conv, xb)["loss"]),
                            ("classic MLP VAE 784-400-20 (baseline)", mlp, mlp.loss)]:
        rate = images_per_second(model, x, fn, args.images)
        rows.append((name, count_parameters(model), rate, 60000 / rate))
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device cpu")
    print(f"{'model':42s} {'params':>9s} {'images/s':>9s} {'epoch (60k) s':>14s}")
    for name, params, rate, epoch in rows:
        print(f"{name:42s} {params:9,d} {rate:9.0f} {epoch:14.1f}")
    model = load_checkpoint(shipped_checkpoint_path())
    codes = encode_dataset(model, test.scaled(), test.labels)
    t0 = time.perf_counter()
    tsne_2d(codes.mu, seed=0)
    print(f"t-SNE of the 10,000 test codes (latent {model.latent_dim}): {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
