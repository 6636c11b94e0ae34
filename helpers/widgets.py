"""The live latent explorer (notebook 04): drag a slider, watch the garment change.

Speed is the design: the decoded image is shown through ``ipywidgets.Image`` PNG bytes updated
in place (no matplotlib figure is re-created, so nothing flickers), decoding one code and
encoding a 224x224 PNG takes about a millisecond on a laptop CPU (benchmarks/widget_latency.py),
and moving many sliders at once (reset, a new start item) renders once, not once per slider.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image as PILImage

from .config import ParameterError
from .data import CLASS_NAMES, to_pixel_range
from .latent import EncodedSet


def to_png(image: torch.Tensor, scale: int = 8) -> bytes:
    """One image (1, 28, 28) or (28, 28) in [-1, 1] -> PNG bytes, upscaled ``scale``x with crisp pixels."""
    pix = to_pixel_range(image.detach().float().cpu().reshape(28, 28)).numpy()
    arr = np.round(pix * 255).astype(np.uint8)
    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    buf = io.BytesIO()
    PILImage.fromarray(arr, mode="L").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class LatentExplorer:
    """Sliders over a model's latent code with the decoded image shown live.

    model: follows the public API (``encode``, ``decode``, ``latent_dim``; conditional models
    also ``num_classes``). codes: the test set's EncodedSet; images: the matching test images
    (N, 1, 28, 28) in [-1, 1]. Each slider spans +-3 standard deviations of its dimension over
    ``codes`` around the codes' mean.

    ``explorer.widget`` is the ipywidgets box to display; ``set_slider(i, v)``, ``reset()``,
    ``start_from_item(index)``, ``start_from_prior(seed)`` drive it from code.
    """

    def __init__(self, model, codes: EncodedSet, images: torch.Tensor, scale: int = 8,
                 max_sliders: int = 16):
        import ipywidgets as w

        self.model = model.eval()
        self.codes = codes
        self.images = images
        self.scale = scale
        d = model.latent_dim
        self.conditional = bool(getattr(model, "num_classes", 0))
        mean = codes.mu.mean(0)
        std = codes.mu.std(0).clamp_min(1e-3)
        self.n_sliders = min(d, max_sliders)
        # with more dims than sliders, show the dims along which the codes vary most
        self.dims = torch.argsort(std, descending=True)[: self.n_sliders].sort().values.tolist()
        self.z = mean.clone()
        self.start = mean.clone()
        self._hold = False
        self.renders = 0
        size = 28 * scale
        self.image = w.Image(format="png", width=size, height=size)
        self.original = w.Image(format="png", width=size, height=size)
        self.sliders = []
        for i in self.dims:
            s = w.FloatSlider(value=float(mean[i]), min=float(mean[i] - 3 * std[i]),
                              max=float(mean[i] + 3 * std[i]), step=float(std[i] / 50),
                              description=f"z[{i}]", continuous_update=True, readout_format=".2f",
                              layout=w.Layout(width="360px"))
            s.observe(self._on_slider, names="value")
            self.sliders.append(s)
        self.class_dd = w.Dropdown(options=[(n, c) for c, n in enumerate(CLASS_NAMES)], value=0,
                                   description="class")
        self.nth = w.BoundedIntText(value=0, min=0, max=int((codes.labels == 0).sum()) - 1,
                                    description="n-th item", layout=w.Layout(width="180px"))
        self.decode_class = w.Dropdown(options=[(n, c) for c, n in enumerate(CLASS_NAMES)], value=0,
                                       description="decode as", disabled=not self.conditional)
        self.random_btn = w.Button(description="random from prior", icon="random")
        self.reset_btn = w.Button(description="reset", icon="undo")
        self.status = w.HTML()
        self._prior_seed = 0
        self.class_dd.observe(self._on_pick, names="value")
        self.nth.observe(self._on_pick, names="value")
        self.decode_class.observe(lambda _: self.render(), names="value")
        self.random_btn.on_click(lambda _: self.start_from_prior(self._next_seed()))
        self.reset_btn.on_click(lambda _: self.reset())
        pick = w.HBox([self.class_dd, self.nth, self.decode_class])
        buttons = w.HBox([self.random_btn, self.reset_btn])
        pictures = w.HBox([w.VBox([w.HTML("<b>start item</b>"), self.original]),
                           w.VBox([w.HTML("<b>decoded from the sliders</b>"), self.image])])
        cols = [w.VBox(self.sliders[i::2]) for i in range(2)]
        self.widget = w.VBox([pick, buttons, pictures, w.HBox(cols), self.status])
        self.start_from_item(self._index_of(0, 0))

    # -- helpers ----------------------------------------------------------------------------
    def _next_seed(self) -> int:
        self._prior_seed += 1
        return self._prior_seed

    def _index_of(self, cls: int, nth: int) -> int:
        idx = torch.nonzero(self.codes.labels == cls).flatten()
        if not 0 <= nth < len(idx):
            raise ParameterError(f"n-th item={nth} is not allowed: class {CLASS_NAMES[cls]} has "
                                 f"{len(idx)} test items, pick 0..{len(idx) - 1}.")
        return int(idx[nth])

    def _on_pick(self, _change=None):
        if self._hold:
            return
        self._hold = True  # clamping nth to the new class's size must not render a second time
        try:
            self.nth.max = int((self.codes.labels == self.class_dd.value).sum()) - 1
        finally:
            self._hold = False
        self.start_from_item(self._index_of(self.class_dd.value, self.nth.value))

    def _on_slider(self, change):
        if self._hold:
            return
        i = self.dims[self.sliders.index(change["owner"])]
        self.z[i] = float(change["new"])
        self.render()

    def _set_code(self, z: torch.Tensor):
        """Move every slider to z and render once."""
        self.z = z.clone().float()
        self._hold = True
        try:
            for s, i in zip(self.sliders, self.dims):
                s.value = float(min(max(self.z[i].item(), s.min), s.max))
        finally:
            self._hold = False
        self.render()

    # -- public -----------------------------------------------------------------------------
    @torch.no_grad()
    def decode_current(self) -> torch.Tensor:
        """The image (1, 28, 28) in [-1, 1] decoded from the current code."""
        z = self.z.unsqueeze(0).to(next(self.model.parameters()).device)
        if self.conditional:
            return self.model.decode(z, torch.tensor([self.decode_class.value]))[0].cpu()
        return self.model.decode(z)[0].cpu()

    def render(self):
        """Decode the current code and put its PNG into the image widget."""
        self.image.value = to_png(self.decode_current(), self.scale)
        self.renders += 1

    def set_slider(self, k: int, value: float):
        """Set the k-th slider (dimension ``self.dims[k]``) to ``value``, within its range."""
        s = self.sliders[k]
        if not s.min <= value <= s.max:
            raise ParameterError(f"slider z[{self.dims[k]}]={value!r} is outside its range "
                                 f"[{s.min:.2f}, {s.max:.2f}] (+-3 standard deviations).")
        s.value = value

    def start_from_item(self, index: int):
        """Start from test item ``index``: show it, encode it, move the sliders to its code."""
        self.start = self.codes.mu[index].clone()
        self.original.value = to_png(self.images[index], self.scale)
        label = int(self.codes.labels[index])
        if self.conditional:
            self.decode_class.value = label
        self.status.value = f"start: test item {index} ({CLASS_NAMES[label]})"
        self._set_code(self.start)

    def start_from_prior(self, seed: int = 0):
        """Start from a random code z ~ N(0, I) (seeded)."""
        self.start = torch.randn(self.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        self.original.value = b""
        self.status.value = f"start: random draw from the prior (seed {seed})"
        self._set_code(self.start)

    def reset(self):
        """Move every slider back to the start code."""
        self._set_code(self.start)
