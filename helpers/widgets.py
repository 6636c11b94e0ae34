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

import base64
import hashlib
import io
import json
import operator
from contextlib import contextmanager

import ipywidgets as w
import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageDraw

from .config import ParameterError
from .data import CLASS_NAMES, class_color, class_item, to_pixel_range
from .latent import EncodedSet, class_means, fit_pca, lerp, slerp, traversal_codes

MODES = ("latent dimensions", "principal directions")
MAP_SIZE = 200


def to_png(image: torch.Tensor, scale: int = 8) -> bytes:
    """One image (C, H, W) with C in {1, 3}, or (H, W), in [-1, 1] -> PNG bytes (grey or RGB),
    upscaled ``scale``x with crisp pixels."""
    return _png(_to_pil(image, scale))


def _to_pil(image: torch.Tensor, scale: int) -> PILImage.Image:
    """``to_png``'s picture before encoding: a PIL image, mode "L" or "RGB"."""
    x = image.detach().float().cpu()
    x = x.unsqueeze(0) if x.dim() == 2 else x
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"to_png takes one image (C, H, W) with C in (1, 3) or (H, W), got shape {tuple(image.shape)}")
    arr = np.round(to_pixel_range(x).numpy() * 255).astype(np.uint8).transpose(1, 2, 0)
    if scale > 1:
        arr = arr.repeat(scale, 0).repeat(scale, 1)
    return PILImage.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr, mode="L" if arr.shape[2] == 1 else "RGB")


def display_scale(side: int) -> int:
    """How many screen pixels per image pixel: about 224 px on screen (8 for 28 x 28, 4 for 64 x 64)."""
    return max(1, round(224 / side))


def rgb(cls: int) -> tuple[int, int, int]:
    """Class ``cls``'s colour (helpers.data.class_color) as 0..255 RGB."""
    return tuple(int(255 * v) for v in class_color(cls))


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
            draw.point([(px, py), (px + 1, py), (px, py + 1)], fill=rgb(int(codes.labels[i])))
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


def _dropdown(description: str, value: int, names=CLASS_NAMES, only=None) -> w.Dropdown:
    """A class picker: the class names (those in ``only``, if given), value = class id."""
    classes = [(name, c) for c, name in enumerate(names) if only is None or c in only]
    return w.Dropdown(options=classes, value=value, description=description, layout=w.Layout(width="240px"))


def _kth_box(size: int) -> w.BoundedIntText:
    """Which item of the chosen class: 0..size-1."""
    return w.BoundedIntText(value=0, min=0, max=max(size - 1, 0), description="k-th", layout=w.Layout(width="150px"))


def _slider(**kwargs) -> w.FloatSlider:
    """A slider that reports every step of a drag (``continuous_update``), so the image follows the mouse."""
    return w.FloatSlider(continuous_update=True, layout=w.Layout(width="380px"), **kwargs)


def _title(text: str) -> w.HTML:
    return w.HTML(f"<b>{text}</b>")


def _legend(names=CLASS_NAMES) -> w.HTML:
    """The map's class colours with their names."""
    rows = [f"<span style='color: rgb{rgb(c)}'>&#9632;</span> {name}" for c, name in enumerate(names)]
    return w.HTML("<div style='font-size: 11px; line-height: 1.35'>" + "<br>".join(rows) + "</div>")


class LatentExplorer:
    """Sliders over a model's latent code with the decoded image shown live.

    model: follows the public API (``encode``, ``decode``, ``latent_dim``, ``conditional``); a
    conditional model's "decode as" class dropdown is enabled. codes: the test set's EncodedSet;
    images: the matching test images (N, C, H, W) in [-1, 1] (grey or colour, 28 to 64 pixels);
    class_names: one name per label in ``codes`` (Fashion-MNIST's ten by default); scale: screen
    pixels per image pixel (default: about 224 px on screen); start, item_b: the test indices of the
    item it starts from and of item B (default: Fashion-MNIST's first T-shirt/top and first Ankle boot).

    Axis sliders span +-3 standard deviations of the test codes along their direction. With
    more latent dimensions than ``max_sliders``, the dimensions that vary most are shown; the
    "principal directions" mode shows the top principal directions with their variance share.

    Display ``explorer`` (or ``explorer.widget``, the bare box). Displayed as ``explorer``, a static
    view of the saved notebook (GitHub, nbviewer, a PDF) shows ``snapshot_png()`` instead of the
    widget's raw text. ``set_slider(k, v)``, ``set_mode(m)``,
    ``start_from_item(i)``, ``start_from_prior(seed)``, ``start_from_sampler(seed)``,
    ``set_attribute(cls, amount)``, ``set_interpolation(t)`` and ``reset()`` drive it from code
    (the tests and the benchmark do).
    """

    def __init__(self, model, codes: EncodedSet, images: torch.Tensor, scale: int | None = None,
                 max_sliders: int = 16, class_names=CLASS_NAMES, start: int | None = None,
                 item_b: int | None = None):
        self.model, self.codes, self.images = model.eval(), codes, images
        self.scale = display_scale(images.shape[-1]) if scale is None else scale
        self.class_names, self.num_classes = tuple(class_names), len(class_names)
        if int(codes.labels.max()) >= self.num_classes:
            raise ParameterError(f"the codes carry label {int(codes.labels.max())} but class_names has only "
                                 f"{self.num_classes} names: pass one name per class.")
        self.conditional = model.conditional
        self.device = next(model.parameters()).device
        # the geometry of the test codes: centre, class means, the axes the sliders move along
        self.n_axes = min(model.latent_dim, max_sliders)
        self.center = codes.mu.mean(0)
        self.class_means = class_means(codes, self.num_classes)
        self.class_sizes = torch.bincount(codes.labels, minlength=self.num_classes).tolist()
        self.pca = fit_pca(codes.mu, k=self.n_axes)
        self.dims = torch.argsort(codes.mu.std(0), descending=True)[: self.n_axes].sort().values.tolist()
        self.map = LatentMap(codes)
        self.source_class: int | None = None  # the start item's class; None for a random start
        self._start_index: int | None = None  # the start item's test index; None for a random start
        self._hold = False  # True while code moves controls: their observers stay quiet
        self._seed = 0  # the last random start's seed
        self.renders = 0
        self._build_controls()
        self._wire_controls()
        self.widget = self._layout()
        self._configure_axes()
        for index, class_dd, kth, name in ((start, self.class_dd, self.kth, "start"),
                                          (item_b, self.b_class, self.b_kth, "item_b")):
            if index is not None:
                self._select(class_dd, kth, index, name)
        self._pick_b()
        self.start_from_item(class_item(codes.labels, self.class_dd.value, self.kth.value))

    # -- controls ---------------------------------------------------------------------------
    def _build_controls(self):
        """Every picture and control, in the order the layout shows them; nothing is wired yet."""
        size = self.images.shape[-1] * self.scale
        names, present = self.class_names, [c for c, n in enumerate(self.class_sizes) if n > 0]
        first, last = present[0], present[-1]  # start items come from classes that have test items
        self.original = w.Image(format="png", width=size, height=size)  # the start item
        self.image = w.Image(format="png", width=size, height=size)  # decoded live
        self.map_image = w.Image(format="png", width=MAP_SIZE, height=MAP_SIZE)
        # where to start: the k-th test item of a class, or a random code
        self.class_dd = _dropdown("start class", first, names, present)
        self.kth = _kth_box(self.class_sizes[first])
        self.decode_class = _dropdown("decode as", 0, names)
        self.decode_class.disabled = not self.conditional
        self.random_btn = w.Button(description="random from prior", icon="random", layout=w.Layout(width="180px"),
                                   tooltip="a code drawn from the prior N(0, I)")
        self.sampler_btn = w.Button(description="random from fitted sampler", icon="random",
                                    layout=w.Layout(width="220px"), disabled=self.model.sampler is None,
                                    tooltip="a code drawn from the mixture fitted to the training codes (notebook 05)")
        self.reset_btn = w.Button(description="reset", icon="undo", layout=w.Layout(width="100px"))
        # the axis sliders (labels and ranges: _configure_axes)
        self.mode = w.ToggleButtons(options=MODES, value=MODES[0], description="slider axes")
        self.sliders = [_slider(readout_format=".2f", step=0.01, style={"description_width": "110px"})
                        for _ in range(self.n_axes)]
        # morph toward a class
        self.target_dd = _dropdown("toward", min(7, last) if min(7, last) in present else last, names, present)
        self.amount = _slider(value=0.0, min=-1.0, max=1.5, step=0.01, description="amount")
        # interpolate from the start item A to item B
        self.b_class = _dropdown("item B class", min(9, last) if min(9, last) in present else last, names, present)
        self.b_kth = _kth_box(self.class_sizes[self.b_class.value])
        self.method = w.ToggleButtons(options=["slerp", "lerp"], value="slerp", description="path",
                                      style={"button_width": "70px"})
        self.t = _slider(value=0.0, min=0.0, max=1.0, step=0.01, description="t (A to B)")
        self.status = w.HTML()

    def _wire_controls(self):
        """What each control does when the learner changes it."""
        for s in self.sliders:
            self._observe(s, self._on_axis_slider)
        for control in (self.class_dd, self.kth):
            self._observe(control, lambda _: self.start_from_item(self._chosen_item(self.class_dd, self.kth)))
        for control in (self.b_class, self.b_kth):
            self._observe(control, self._on_pick_b)
        for control in (self.decode_class, self.target_dd, self.amount):
            self._observe(control, lambda _: self.render())
        self._observe(self.mode, lambda change: self.set_mode(change["new"]))
        self._observe(self.method, lambda _: self.set_interpolation(self.t.value))
        self._observe(self.t, lambda change: self.set_interpolation(change["new"]))
        self.random_btn.on_click(lambda _: self.start_from_prior(self._next_seed()))
        self.sampler_btn.on_click(lambda _: self.start_from_sampler(self._next_seed()))
        self.reset_btn.on_click(lambda _: self.reset())

    def _observe(self, control, action):
        """Call ``action(change)`` when the learner changes ``control``'s value (not while holding)."""
        control.observe(lambda change: None if self._hold else action(change), names="value")

    @contextmanager
    def _holding(self):
        """Move controls from code without their observers acting: the caller renders once after."""
        before, self._hold = self._hold, True
        try:
            yield
        finally:
            self._hold = before

    def _layout(self):
        pictures = w.HBox([w.VBox([_title("start item"), self.original]),
                           w.VBox([_title("decoded live"), self.image]),
                           w.VBox([_title("where you are (PCA of test codes)"), w.HBox([self.map_image, _legend(self.class_names)])])])
        half = (self.n_axes + 1) // 2
        axes = w.HBox([w.VBox(self.sliders[:half]), w.VBox(self.sliders[half:])])
        attribute = w.VBox([_title("morph toward a class (class-mean direction)"),
                            w.HBox([self.target_dd, self.amount])])
        interp = w.VBox([_title("interpolate from the start item A to item B"),
                         w.HBox([self.b_class, self.b_kth, self.method]), self.t])
        return w.VBox([w.HBox([self.class_dd, self.kth, self.decode_class]),
                       w.HBox([self.random_btn, self.sampler_btn, self.reset_btn]), pictures, self.mode, axes,
                       attribute, interp, self.status],
                      layout=w.Layout(border="1px solid #ddd", padding="8px"))

    # -- reacting to the controls -----------------------------------------------------------
    def _next_seed(self) -> int:
        self._seed += 1
        return self._seed

    def _chosen_item(self, class_dd, kth) -> int:
        """The test index a (class, k-th) pair of controls names; k's range follows the class."""
        with self._holding():  # clamping k to the new class's size must not act a second time
            kth.max = self.class_sizes[class_dd.value] - 1
        return class_item(self.codes.labels, class_dd.value, kth.value)

    def _select(self, class_dd, kth, index, name: str):
        """Set a (class, k-th) pair of controls to test item ``index`` (the constructor's start / item_b)."""
        given = index
        n = len(self.codes.labels)
        try:
            index = operator.index(index) if not isinstance(index, bool) else None
        except TypeError:
            index = None
        if index is None or not 0 <= index < n:
            raise ParameterError(f"{name}={given!r} is not allowed: give a test item's index, a whole number in "
                                 f"0..{n - 1} (e.g. find_item(test.labels, \"Sneaker:0\")).")
        cls = int(self.codes.labels[index])
        with self._holding():
            class_dd.value = cls
            kth.max = self.class_sizes[cls] - 1
            kth.value = int((self.codes.labels[:index] == cls).sum())

    def _pick_b(self):
        self.index_b = self._chosen_item(self.b_class, self.b_kth)
        self.z_b = self.codes.mu[self.index_b].clone()

    def _on_pick_b(self, _change):
        self._pick_b()
        self.set_interpolation(self.t.value)

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
        with self._holding():
            for s, name, sd in zip(self.sliders, names, spread.tolist()):
                s.description = name
                s.min, s.max = -1e9, 1e9  # widen first so the new range is always valid
                s.min, s.max = -3 * sd, 3 * sd
                s.step = max(sd / 50, 1e-4)

    def _move_sliders(self):
        """Put every slider at the current code's coordinate (clamped to its range), no render."""
        with self._holding():
            for s, c in zip(self.sliders, self._coords(self.z).tolist()):
                s.value = float(min(max(c, s.min), s.max))

    def _set_code(self, z: torch.Tensor):
        self.z = z.clone().float()
        self._move_sliders()
        self.render()

    def _on_axis_slider(self, change):
        k = self.sliders.index(change["owner"])
        self.z = self.z + (float(change["new"]) - float(self._coords(self.z)[k])) * self.basis()[k]
        self.render()

    # -- public -----------------------------------------------------------------------------
    def attribute_direction(self) -> torch.Tensor:
        """mean code of the target class minus that of the start item's class (the overall mean for a random start)."""
        source = self.center if self.source_class is None else self.class_means[self.source_class]
        return self.class_means[self.target_dd.value] - source

    def current_code(self) -> torch.Tensor:
        """The code on screen (latent_dim,): the axis sliders' code plus the attribute offset."""
        return self.z + self.amount.value * self.attribute_direction()

    @torch.no_grad()
    def snapshot_png(self, rows: int = 4, steps: int = 7) -> bytes:
        """A still picture of what the sliders do (PNG bytes, 3 screen pixels per image pixel): the start
        item (black for a random start), then one row per axis of the ``rows`` most-spread latent
        dimensions, the code on screen decoded with that dimension moved from -3 to +3 standard
        deviations (of the test codes) in ``steps`` steps. A 14-pixel strip on top labels the columns
        (start, -3 sd, 0, +3 sd); each row's dimension (z[i]) is written in the white band."""
        dims, decoded = self._traversal(rows, steps)
        c, h, wd = decoded.shape[1:]
        tiles = decoded.reshape(len(dims), steps, c, h, wd).permute(2, 0, 3, 1, 4).reshape(c, len(dims) * h, steps * wd)
        column = torch.full((c, len(dims) * h, wd), -1.0)                        # black below the start item
        if self._start_index is not None:
            column[:, :h] = self.images[self._start_index].float().cpu()
        gap = torch.ones(c, len(dims) * h, wd // 2)                              # a white band for the row labels
        s, head = 3, 14                                     # screen pixels per image pixel; the column labels' strip
        body = _to_pil(torch.cat([column, gap, tiles], 2), s)
        img = PILImage.new(body.mode, (body.width, body.height + head), 255 if body.mode == "L" else (255, 255, 255))
        img.paste(body, (0, head))
        draw, ink = ImageDraw.Draw(img), 0 if body.mode == "L" else (0, 0, 0)
        if self._start_index is not None:
            draw.text((2, 2), "start", fill=ink)
        left = (wd + wd // 2) * s
        for k, label in ((0, "-3 sd"), (steps // 2, "0"), (steps - 1, "+3 sd")):
            draw.text((left + k * wd * s + (wd * s - draw.textlength(label)) // 2, 2), label, fill=ink)
        for r, d in enumerate(dims.tolist()):
            draw.text((wd * s + 3, head + r * h * s + h * s // 2 - 5), f"z[{d}]", fill=ink)
        return _png(img)

    @torch.no_grad()
    def _traversal(self, rows: int, steps: int):
        """The ``rows`` most-spread latent dimensions (rows,) and the code on screen decoded with each
        moved from -3 to +3 standard deviations of the test codes in ``steps`` steps: (rows * steps, C, H, W)."""
        spread = self.codes.mu.std(0)
        dims = torch.argsort(spread, descending=True)[:rows]
        z = traversal_codes(self.current_code(), dims, spread[dims, None] * torch.linspace(-3, 3, steps))
        y = torch.full((len(z),), self.decode_class.value, device=self.device)
        return dims, self.model.decode(z.to(self.device), y).float().cpu()

    @torch.no_grad()
    def frames_html(self, rows: int = 4, steps: int = 25, still: bytes | None = None) -> str:
        """A kernel-free stand-in for the sliders, as HTML (about 0.2 MB at 28 x 28): the still picture
        (``snapshot_png``), then a range slider over ``steps`` precomputed frames for each of the
        ``rows`` most-spread dimensions (the code on screen with that dimension moved from -3 to +3
        standard deviations); a few lines of JavaScript swap the frame. Where scripts do not run,
        the still picture and the middle frame show. ``still``: ``snapshot_png(rows)`` if already made."""
        dims, decoded = self._traversal(rows, steps)
        offsets = torch.linspace(-3, 3, steps)
        frames = [[base64.b64encode(to_png(decoded[r * steps + k], self.scale)).decode("ascii") for k in range(steps)]
                  for r in range(len(dims))]
        still = self.snapshot_png(rows) if still is None else still
        uid = "vx-" + hashlib.sha1(still + frames[0][0].encode()).hexdigest()[:12]  # the same run, the same page
        mid, side = steps // 2, self.images.shape[-1] * self.scale
        options = "".join(f'<option value="{r}">z[{int(d)}]</option>' for r, d in enumerate(dims))
        return (
            f'<div id="{uid}"><img alt="the start item, then its code decoded along {len(dims)} dimensions" '
            f'src="data:image/png;base64,{base64.b64encode(still).decode("ascii")}">'
            f'<div style="display:flex; gap:1em; align-items:center; margin-top:0.5em">'
            f'<img class="vx-frame" width="{side}" height="{side}" src="data:image/png;base64,{frames[0][mid]}">'
            f'<div><b>Without a kernel</b>: precomputed frames.<br><label>dimension <select class="vx-dim">{options}'
            f'</select></label><br><label>offset <input class="vx-step" type="range" min="0" max="{steps - 1}" '
            f'value="{mid}"></label> <span class="vx-value">0.0 sd</span></div></div>'
            f'<script>(function () {{ const root = document.getElementById("{uid}"), frames = {json.dumps(frames)}, '
            f'offsets = {json.dumps([round(float(v), 2) for v in offsets])}; '
            f'const dim = root.querySelector(".vx-dim"), step = root.querySelector(".vx-step"); '
            f'function show() {{ root.querySelector(".vx-frame").src = "data:image/png;base64," + frames[dim.value][step.value]; '
            f'root.querySelector(".vx-value").textContent = offsets[step.value].toFixed(1) + " sd"; }} '
            f'dim.addEventListener("change", show); step.addEventListener("input", show); }})();</script></div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget where a kernel runs it. For a static view of the saved notebook: a still
        picture (``snapshot_png``, what GitHub shows), the kernel-free frames (``frames_html``, what
        nbviewer and the book site show) and one line of text."""
        rows = min(4, self.model.latent_dim)
        bundle = dict(self.widget._repr_mimebundle_(include=include, exclude=exclude) or {})
        still = self.snapshot_png(rows)
        bundle["text/html"] = self.frames_html(rows, still=still)
        bundle["image/png"] = base64.b64encode(still).decode("ascii")
        bundle["text/plain"] = (f"Latent explorer: live sliders with a running kernel (JupyterLab). Static view: the "
                                f"start item, then the code decoded along its {rows} most-spread dimensions, -3 to +3 sd.")
        return bundle

    @torch.no_grad()
    def decode_current(self) -> torch.Tensor:
        """The image (C, H, W) in [-1, 1] decoded from the code on screen (as the "decode as" class;
        a plain VAE ignores the class)."""
        z = self.current_code().unsqueeze(0).to(self.device)
        return self.model.decode(z, torch.tensor([self.decode_class.value], device=self.device))[0].cpu()

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
        if target_class not in range(self.num_classes):
            raise ParameterError(f"target class={target_class!r} is not allowed: use 0..{self.num_classes - 1}.")
        if not self.amount.min <= amount <= self.amount.max:
            raise ParameterError(f"amount={amount!r} is not allowed: use {self.amount.min}..{self.amount.max}.")
        with self._holding():
            self.target_dd.value = target_class
            self.amount.value = amount
        self.render()

    def set_interpolation(self, t: float):
        """Put the code at ``t`` in [0, 1] on the path (lerp or slerp) from the start item to item B."""
        if not 0.0 <= t <= 1.0:
            raise ParameterError(f"t={t!r} is not allowed: t runs from 0 (item A) to 1 (item B).")
        path = slerp if self.method.value == "slerp" else lerp
        with self._holding():
            self.t.value = t
        self._set_code(path(self.start, self.z_b, 101)[int(round(t * 100))])

    def start_from_item(self, index: int):
        """Start from test item ``index``: show it, encode it, move the sliders to its code."""
        self.source_class, self._start_index = int(self.codes.labels[index]), int(index)
        if self.conditional:  # decode it as its own class
            with self._holding():
                self.decode_class.value = self.source_class
        self._start(self.codes.mu[index], to_png(self.images[index], self.scale),
                    f"start: test item {index} ({self.class_names[self.source_class]})")

    def start_from_prior(self, seed: int = 0):
        """Start from a random code of the prior (seeded): z ~ N(0, I), or N(m_y, I) for the
        "decode as" class y of a conditional model."""
        self._start_random(seed, from_prior=True)

    def start_from_sampler(self, seed: int = 0):
        """Start from a random code of the model's fitted sampler (seeded): the Gaussian mixture
        fitted to the training codes (notebook 05), what ``model.sample`` draws from."""
        if self.model.sampler is None:
            raise ParameterError("start_from_sampler is not allowed: this model has no fitted sampler "
                                 "(notebook 05 fits one); use start_from_prior.")
        self._start_random(seed, from_prior=False)

    def _start_random(self, seed: int, from_prior: bool):
        y = torch.tensor([self.decode_class.value])  # stays 0 for a plain model, which has one group
        code = self.model.sample_codes(1, y, torch.Generator().manual_seed(seed), from_prior=from_prior)[0].cpu()
        self.source_class = self._start_index = None
        self._start(code, b"", f"start: random draw from the {'prior' if from_prior else 'fitted sampler'} "
                               f"(seed {seed})")

    def _start(self, code: torch.Tensor, picture: bytes, status: str):
        """Make ``code`` the start (``picture`` shows where it came from) and go there."""
        self.start = code.clone().float()
        self.original.value = picture
        self.status.value = status
        self.reset()

    def reset(self):
        """Back to the start code: axis sliders, attribute amount and t, rendered once."""
        with self._holding():
            self.amount.value = 0.0
            self.t.value = 0.0
        self._set_code(self.start)
