"""How live is the latent explorer? Time from a slider value change to new PNG bytes in the
image widget, p50 and p95 over many moves, beside the naive way (decode, then redraw a
matplotlib figure and render it to PNG, what `interact` + `plt.imshow` does) in the same run.

    .venv/bin/python benchmarks/widget_latency.py [--moves 300] [--checkpoint checkpoints/vae.pt]

Kernel-side figures (no browser): the explorer's whole reaction to a slider change (decode, PNG
of the garment, PNG of the latent map with its marker). Nothing is asserted; the aim is a p95
under 15 ms on a 2-core CPU, at 28 x 28 and at 64 x 64: the rows "64 x 64" use the shipped
shapes64 model (notebook 06) and a colour (3, 64, 64) model of the same architecture (its
weights untrained: the cost of a decode does not depend on them).
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch

from helpers.config import shipped_checkpoint_path
from helpers.data import load_fashion_mnist, to_pixel_range
from helpers.images import load_images
from helpers.image_vae import ImageVAE
from helpers.latent import encode_dataset
from helpers.model import load_checkpoint
from helpers.widgets import LatentExplorer


def percentiles(ms):
    return np.percentile(ms, 50), np.percentile(ms, 95)


def time_moves(set_value, values, read):
    ms = []
    for v in values:
        before = read()
        t0 = time.perf_counter()
        set_value(v)
        after = read()
        ms.append((time.perf_counter() - t0) * 1000)
        assert after is not before
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=300)
    ap.add_argument("--checkpoint", default=str(shipped_checkpoint_path()))
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = load_checkpoint(args.checkpoint)
    test = load_fashion_mnist("test")
    x = test.scaled()
    codes = encode_dataset(model, x, test.labels)
    ex = LatentExplorer(model, codes, x)
    rng = np.random.default_rng(0)
    read = lambda: ex.image.value  # noqa: E731
    rows = []
    s = ex.sliders[0]
    vals = rng.uniform(s.min, s.max, args.moves)
    rows.append(("explorer: latent-dimension slider", time_moves(lambda v: setattr(s, "value", float(v)), vals, read)))
    ex.set_mode("principal directions")
    s = ex.sliders[0]
    vals = rng.uniform(s.min, s.max, args.moves)
    rows.append(("explorer: principal-direction slider", time_moves(lambda v: setattr(s, "value", float(v)), vals, read)))
    vals = rng.uniform(0, 1, args.moves).round(2)
    rows.append(("explorer: interpolation slider t (moves all sliders)",
                 time_moves(lambda v: setattr(ex.t, "value", float(v) + 1e-9 * rng.random()), vals, read)))
    vals = rng.uniform(-1, 1.5, args.moves)
    rows.append(("explorer: attribute slider", time_moves(lambda v: setattr(ex.amount, "value", float(v)), vals, read)))

    # 64 x 64: the shipped shapes64 model (grey) and a colour model of the same architecture
    shapes_test = load_images("shapes64", "test", n=2000)
    sx = shapes_test.scaled().tensor()
    big = load_checkpoint(shipped_checkpoint_path("shapes64"))
    ex64 = LatentExplorer(big, encode_dataset(big, sx, shapes_test.labels), sx, class_names=shapes_test.class_names)
    s = ex64.sliders[0]
    vals = rng.uniform(s.min, s.max, args.moves)
    rows.append(("explorer 64 x 64 grey (shapes64.pt): latent slider",
                 time_moves(lambda v: setattr(s, "value", float(v)), vals, lambda: ex64.image.value)))
    torch.manual_seed(0)
    colour = ImageVAE(latent_dim=big.latent_dim, hidden=big.hidden, likelihood=big.likelihood, image_shape=(3, 64, 64)).eval()
    cx = sx.expand(-1, 3, -1, -1) * torch.tensor([1.0, 0.5, -0.5]).view(1, 3, 1, 1)
    exc = LatentExplorer(colour, encode_dataset(colour, cx, shapes_test.labels), cx, class_names=shapes_test.class_names)
    s = exc.sliders[0]
    vals = rng.uniform(s.min, s.max, args.moves)
    rows.append(("explorer 64 x 64 colour (3, 64, 64): latent slider",
                 time_moves(lambda v: setattr(s, "value", float(v)), vals, lambda: exc.image.value)))

    state = {"png": b""}
    z = codes.mu[0].clone()

    def naive(v):
        z[0] = v
        with torch.no_grad():
            img = to_pixel_range(model.decode(z.unsqueeze(0))[0, 0]).numpy()
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        state["png"] = buf.getvalue()

    vals = rng.uniform(-2, 2, args.moves)
    rows.append(("baseline: decode + new matplotlib figure -> PNG", time_moves(naive, vals, lambda: state["png"])))
    print(f"{args.moves} moves each, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'what':55s} {'p50 ms':>7s} {'p95 ms':>7s}")
    for name, ms in rows:
        p50, p95 = percentiles(ms)
        print(f"{name:55s} {p50:7.2f} {p95:7.2f}")


if __name__ == "__main__":
    main()
