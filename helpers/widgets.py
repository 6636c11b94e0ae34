"""The live latent explorer (notebook 04): drag a slider, watch the garment change.

Speed is the design. Every picture is an ``ipywidgets.Image`` whose PNG bytes are replaced in
place: no matplotlib figure is re-created, so nothing flickers. One slider move costs one decode
of one code plus two small PNG encodes (the garment, and the latent map with its marker drawn
onto a background rendered once), about 1-2 ms on a laptop CPU (benchmarks/widget_latency.py).
Moving many sliders at once (reset, a new start item, the interpolation slider) renders once,
not once per slider.

The code on screen is ``z = z_axes + amount * (mean[target class] - mean[source class])``:
``z_axes`` is what the axis sliders say, in one of two bases (the latent dimensions themselves,
or the principal directions of the test codes); the attribute slider adds a class-mean direction.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageDraw

from .config import ParameterError
from .data import CLASS_NAMES, NUM_CLASSES, to_pixel_range
from .latent import EncodedSet, class_means, fit_pca, lerp, slerp

MODES = ("latent dimensions", "principal directions")
MAP_SIZE = 200


def to_png(image: torch.Tensor, scale: int = 8) -> bytes:
    """One image (1, 28, 28) or (28, 28) in [-1, 1] -> PNG bytes, upscaled ``scale``x with crisp pixels."""
    pix = to_pixel_range(image.detach().float().cpu().reshape(28, 28)).numpy()
    arr = np.round(pix * 255).astype(np.uint8)
    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    return _png(PILImage.fromarray(arr, mode="L"))


def _png(img: PILImage.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class LatentMap:
    """The test codes' PCA plane as a small picture; ``png(z)`` marks where code z lies.

    The scatter (one dot per code, coloured by class) is drawn once; each call only pastes a
    marker onto a copy, so it is cheap enough for every slider move.
    """

    def __init__(self, codes: EncodedSet, size: int = MAP_SIZE, max_points: int = 3000, seed: int = 0):
        from .plots import CLASS_COLORS

        self.pca = fit_pca(codes.mu, k=2)
        xy = self.pca.project(codes.mu).numpy()
        lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
        pad = 0.08 * (hi - lo)
        self.lo, self.hi, self.size = lo - pad, hi + pad, size
        img = PILImage.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        rng = np.random.default_rng(seed)
        pick = rng.permutation(len(xy))[:max_points]
        for i in pick:
            px, py = self._pixel(xy[i])
            c = tuple(int(255 * v) for v in CLASS_COLORS[int(codes.labels[i])])
            draw.point([(px, py), (px + 1, py), (px, py + 1)], fill=c)
        draw.rectangle([0, 0, size - 1, size - 1], outline=(160, 160, 160))
        self.background = img

    def _pixel(self, point) -> tuple[int, int]:
        u = (point - self.lo) / (self.hi - self.lo)
        u = np.clip(u, 0.0, 1.0)
        return int(u[0] * (self.size - 1)), int((1.0 - u[1]) * (self.size - 1))

    def png(self, z: torch.Tensor) -> bytes:
        img = self.background.copy()
        px, py = self._pixel(self.pca.project(z.float().unsqueeze(0))[0].numpy())
        draw = ImageDraw.Draw(img)
        draw.ellipse([px - 6, py - 6, px + 6, py + 6], outline="black", width=3)
        draw.line([px - 9, py, px + 9, py], fill="black")
        draw.line([px, py - 9, px, py + 9], fill="black")
        return _png(img)


class LatentExplorer:
    """Sliders over a model's latent code with the decoded image shown live.

    model: follows the public API (``encode``, ``decode``, ``latent_dim``; conditional models
    also ``num_classes``, and get a "decode as" class dropdown). codes: the test set's
    EncodedSet; images: the matching test images (N, 1, 28, 28) in [-1, 1].

    Axis sliders span +-3 standard deviations of the test codes along their direction. With
    more latent dimensions than ``max_sliders``, the dimensions that vary most are shown; the
    "principal directions" mode shows the top principal directions with their variance share.

    ``explorer.widget`` is the box to display. ``set_slider(k, v)``, ``set_mode(m)``,
    ``start_from_item(i)``, ``start_from_prior(seed)``, ``set_attribute(cls, amount)``,
    ``set_interpolation(t)`` and ``reset()`` drive it from code (the tests and the benchmark do).
    """

    def __init__(self, model, codes: EncodedSet, images: torch.Tensor, scale: int = 8,
                 max_sliders: int = 16):
        import ipywidgets as w

        self.model = model.eval()
        self.codes = codes
        self.images = images
        self.scale = scale
        self.conditional = bool(getattr(model, "num_classes", 0))
        self.device = next(model.parameters()).device
        d = model.latent_dim
        self.n_axes = min(d, max_sliders)
        self.center = codes.mu.mean(0)
        self.class_means = class_means(codes)
        self.pca = fit_pca(codes.mu, k=self.n_axes)
        std = codes.mu.std(0)
        self.dims = torch.argsort(std, descending=True)[: self.n_axes].sort().values.tolist()
        self.map = LatentMap(codes)
        self.z = self.center.clone()
        self.start = self.center.clone()
        self.source_class: int | None = None
        self.z_b = self.center.clone()
        self._hold = False
        self._prior_seed = 0
        self.renders = 0
        size = 28 * scale
        lay = w.Layout
        self.image = w.Image(format="png", width=size, height=size)
        self.original = w.Image(format="png", width=size, height=size)
        self.map_image = w.Image(format="png", width=MAP_SIZE, height=MAP_SIZE)
        classes = [(n, c) for c, n in enumerate(CLASS_NAMES)]
        # start item
        self.class_dd = w.Dropdown(options=classes, value=0, description="start class", layout=lay(width="240px"))
        self.nth = w.BoundedIntText(value=0, min=0, max=self._class_size(0) - 1, description="n-th",
                                    layout=lay(width="150px"))
        self.decode_class = w.Dropdown(options=classes, value=0, description="decode as",
                                       disabled=not self.conditional, layout=lay(width="240px"))
        self.random_btn = w.Button(description="random from prior", icon="random", layout=lay(width="180px"))
        self.reset_btn = w.Button(description="reset", icon="undo", layout=lay(width="100px"))
        # axis sliders
        self.mode = w.ToggleButtons(options=MODES, value=MODES[0], description="slider axes")
        self.sliders = [w.FloatSlider(continuous_update=True, readout_format=".2f", step=0.01,
                                      layout=lay(width="380px"), style={"description_width": "110px"})
                        for _ in range(self.n_axes)]
        # attribute and interpolation
        self.target_dd = w.Dropdown(options=classes, value=7, description="toward", layout=lay(width="240px"))
        self.amount = w.FloatSlider(value=0.0, min=-1.0, max=1.5, step=0.01, description="amount",
                                    continuous_update=True, layout=lay(width="380px"))
        self.b_class = w.Dropdown(options=classes, value=9, description="item B class", layout=lay(width="240px"))
        self.b_nth = w.BoundedIntText(value=0, min=0, max=self._class_size(9) - 1, description="n-th",
                                      layout=lay(width="150px"))
        self.method = w.ToggleButtons(options=["slerp", "lerp"], value="slerp", description="path",
                                      style={"button_width": "70px"})
        self.t = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="t (A to B)",
                               continuous_update=True, layout=lay(width="380px"))
        self.status = w.HTML()
        # wiring
        for s in self.sliders:
            s.observe(self._on_axis_slider, names="value")
        self.class_dd.observe(self._on_pick, names="value")
        self.nth.observe(self._on_pick, names="value")
        self.decode_class.observe(self._render_unless_held, names="value")
        self.mode.observe(lambda ch: self.set_mode(ch["new"]), names="value")
        self.random_btn.on_click(lambda _: self.start_from_prior(self._next_seed()))
        self.reset_btn.on_click(lambda _: self.reset())
        self.target_dd.observe(self._render_unless_held, names="value")
        self.amount.observe(self._render_unless_held, names="value")
        self.b_class.observe(self._on_pick_b, names="value")
        self.b_nth.observe(self._on_pick_b, names="value")
        self.method.observe(lambda _: self.set_interpolation(self.t.value), names="value")
        self.t.observe(lambda ch: None if self._hold else self.set_interpolation(ch["new"]), names="value")
        self.widget = self._layout(w)
        self._configure_axes()
        self._pick_b()
        self.start_from_item(self._index_of(0, 0))

    # -- layout -----------------------------------------------------------------------------
    def _layout(self, w):
        title = lambda text: w.HTML(f"<b>{text}</b>")  # noqa: E731
        from .plots import CLASS_COLORS

        legend = w.HTML("<div style='font-size: 11px; line-height: 1.35'>" + "<br>".join(
            f"<span style='color: rgb{tuple(int(255 * v) for v in CLASS_COLORS[c])}'>&#9632;</span> {name}"
            for c, name in enumerate(CLASS_NAMES)) + "</div>")
        pictures = w.HBox([w.VBox([title("start item"), self.original]),
                           w.VBox([title("decoded live"), self.image]),
                           w.VBox([title("where you are (PCA of test codes)"), w.HBox([self.map_image, legend])])])
        half = (self.n_axes + 1) // 2
        axes = w.HBox([w.VBox(self.sliders[:half]), w.VBox(self.sliders[half:])])
        attribute = w.VBox([title("morph toward a class (class-mean direction)"),
                            w.HBox([self.target_dd, self.amount])])
        interp = w.VBox([title("interpolate from the start item A to item B"),
                         w.HBox([self.b_class, self.b_nth, self.method]), self.t])
        return w.VBox([w.HBox([self.class_dd, self.nth, self.decode_class]),
                       w.HBox([self.random_btn, self.reset_btn]), pictures, self.mode, axes,
                       attribute, interp, self.status],
                      layout=w.Layout(border="1px solid #ddd", padding="8px"))

    # -- helpers ----------------------------------------------------------------------------
    def _next_seed(self) -> int:
        self._prior_seed += 1
        return self._prior_seed

    def _class_size(self, cls: int) -> int:
        return int((self.codes.labels == cls).sum())

    def _index_of(self, cls: int, nth: int) -> int:
        idx = torch.nonzero(self.codes.labels == cls).flatten()
        if not 0 <= nth < len(idx):
            raise ParameterError(f"n-th item={nth} is not allowed: class {CLASS_NAMES[cls]} has "
                                 f"{len(idx)} test items, pick 0..{len(idx) - 1}.")
        return int(idx[nth])

    def basis(self) -> torch.Tensor:
        """The current axes as orthonormal rows (n_axes, latent_dim)."""
        if self.mode.value == MODES[1]:
            return self.pca.components
        return torch.eye(self.model.latent_dim)[self.dims]

    def _coords(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.center) @ self.basis().T

    def _configure_axes(self):
        """Set every slider's label and range for the current mode (+-3 std along each axis)."""
        spread = self._coords(self.codes.mu).std(0)
        names = ([f"PC{k + 1} ({v:.0%})" for k, v in enumerate(self.pca.explained)]
                 if self.mode.value == MODES[1] else [f"z[{i}]" for i in self.dims])
        self._hold = True
        try:
            for s, name, sd in zip(self.sliders, names, spread.tolist()):
                s.description = name
                s.min, s.max = -1e9, 1e9  # widen first so the new range is always valid
                s.min, s.max = -3 * sd, 3 * sd
                s.step = max(sd / 50, 1e-4)
        finally:
            self._hold = False

    def _move_sliders(self):
        """Put every slider at the current code's coordinate (clamped to its range), no render."""
        self._hold = True
        try:
            for s, c in zip(self.sliders, self._coords(self.z).tolist()):
                s.value = float(min(max(c, s.min), s.max))
        finally:
            self._hold = False

    def _set_code(self, z: torch.Tensor):
        self.z = z.clone().float()
        self._move_sliders()
        self.render()

    def _on_pick(self, _change=None):
        if self._hold:
            return
        self._hold = True  # clamping n-th to the new class's size must not render a second time
        try:
            self.nth.max = self._class_size(self.class_dd.value) - 1
        finally:
            self._hold = False
        self.start_from_item(self._index_of(self.class_dd.value, self.nth.value))

    def _pick_b(self):
        self._hold = True
        try:
            self.b_nth.max = self._class_size(self.b_class.value) - 1
        finally:
            self._hold = False
        self.index_b = self._index_of(self.b_class.value, self.b_nth.value)
        self.z_b = self.codes.mu[self.index_b].clone()

    def _on_pick_b(self, _change=None):
        if self._hold:
            return
        self._pick_b()
        self.set_interpolation(self.t.value)

    def _render_unless_held(self, _change=None):
        if not self._hold:
            self.render()

    def _on_axis_slider(self, change):
        if self._hold:
            return
        k = self.sliders.index(change["owner"])
        self.z = self.z + (float(change["new"]) - float(self._coords(self.z)[k])) * self.basis()[k]
        self.render()

    # -- public -----------------------------------------------------------------------------
    def attribute_direction(self) -> torch.Tensor:
        """mean code of the target class minus that of the start item's class (the overall mean for a prior draw)."""
        source = self.center if self.source_class is None else self.class_means[self.source_class]
        return self.class_means[self.target_dd.value] - source

    def current_code(self) -> torch.Tensor:
        """The code on screen (latent_dim,): the axis sliders' code plus the attribute offset."""
        return self.z + self.amount.value * self.attribute_direction()

    @torch.no_grad()
    def decode_current(self) -> torch.Tensor:
        """The image (1, 28, 28) in [-1, 1] decoded from the code on screen."""
        z = self.current_code().unsqueeze(0).to(self.device)
        if self.conditional:
            return self.model.decode(z, torch.tensor([self.decode_class.value], device=self.device))[0].cpu()
        return self.model.decode(z)[0].cpu()

    def render(self):
        """Decode the code on screen into the image widget and move the marker on the map."""
        code = self.current_code()
        self.image.value = to_png(self.decode_current(), self.scale)
        self.map_image.value = self.map.png(code)
        self.renders += 1

    def set_slider(self, k: int, value: float):
        """Set the k-th axis slider to ``value``, which must lie within its range."""
        s = self.sliders[k]
        if not s.min <= value <= s.max:
            raise ParameterError(f"slider {s.description}={value!r} is outside its range "
                                 f"[{s.min:.2f}, {s.max:.2f}] (+-3 standard deviations).")
        s.value = value

    def set_mode(self, mode: str):
        """Switch the axis sliders between latent dimensions and principal directions."""
        if mode not in MODES:
            raise ParameterError(f"mode={mode!r} is not allowed: use one of {MODES}.")
        if self.mode.value != mode:
            self.mode.value = mode  # the observer calls back here
            return
        self._configure_axes()
        self._move_sliders()
        self.render()

    def set_attribute(self, target_class: int, amount: float):
        """Morph toward ``target_class`` by ``amount`` (0 = none, 1 = a whole class-mean step)."""
        if target_class not in range(NUM_CLASSES):
            raise ParameterError(f"target class={target_class!r} is not allowed: use 0..9.")
        if not self.amount.min <= amount <= self.amount.max:
            raise ParameterError(f"amount={amount!r} is not allowed: use {self.amount.min}..{self.amount.max}.")
        self._hold = True
        try:
            self.target_dd.value = target_class
            self.amount.value = amount
        finally:
            self._hold = False
        self.render()

    def set_interpolation(self, t: float):
        """Put the code at ``t`` in [0, 1] on the path (lerp or slerp) from the start item to item B."""
        if not 0.0 <= t <= 1.0:
            raise ParameterError(f"t={t!r} is not allowed: t runs from 0 (item A) to 1 (item B).")
        path = slerp if self.method.value == "slerp" else lerp
        z = path(self.start, self.z_b, 101)[int(round(t * 100))]
        self._hold = True
        try:
            self.t.value = t
        finally:
            self._hold = False
        self._set_code(z)

    def start_from_item(self, index: int):
        """Start from test item ``index``: show it, encode it, move the sliders to its code."""
        self.start = self.codes.mu[index].clone()
        self.original.value = to_png(self.images[index], self.scale)
        self.source_class = int(self.codes.labels[index])
        if self.conditional:
            self._hold = True
            try:
                self.decode_class.value = self.source_class
            finally:
                self._hold = False
        self._reset_controls()
        self.status.value = f"start: test item {index} ({CLASS_NAMES[self.source_class]})"
        self._set_code(self.start)

    def start_from_prior(self, seed: int = 0):
        """Start from a random code z ~ N(0, I) (seeded); N(m_y, I) for the "decode as" class y of
        a conditional model."""
        self.start = torch.randn(self.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        if self.conditional:
            self.start = self.start + self.model.prior_mean(torch.tensor([self.decode_class.value]), 1)[0].cpu().detach()
        self.original.value = b""
        self.source_class = None
        self._reset_controls()
        self.status.value = f"start: random draw from the prior (seed {seed})"
        self._set_code(self.start)

    def _reset_controls(self):
        self._hold = True
        try:
            self.amount.value = 0.0
            self.t.value = 0.0
        finally:
            self._hold = False

    def reset(self):
        """Back to the start code: axis sliders, attribute amount and t."""
        self._reset_controls()
        self._set_code(self.start)
