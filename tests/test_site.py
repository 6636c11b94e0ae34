"""The book site (tools/build_site.py): the exported decoder decodes like PyTorch, and the built
site works offline in a real browser (headless Chromium, Playwright): every page loads nothing
from off the host and no request fails, equations are typeset, figures load, and the explorer
decodes live in the page, pixel for pixel as PyTorch does."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from conftest import ROOT
from test_browser import launch

_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_site)

PAGES = ["index.html", "explorer.html", "docs/teaching.html"] + [f"notebooks/{n}.html" for n in build_site.NOTEBOOKS]


@pytest.fixture(scope="module")
def shipped():
    from helpers.config import shipped_checkpoint_path
    from helpers.model import load_checkpoint

    return load_checkpoint(shipped_checkpoint_path("vae")).eval()


def test_the_exported_decoder_decodes_like_pytorch(tmp_path, shipped):
    import onnxruntime

    path = build_site.export_decoder(shipped, tmp_path / "decoder.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    for batch in (1, 64):  # the batch axis is dynamic
        z = 2 * torch.randn(batch, shipped.latent_dim, generator=gen)
        (got,) = session.run(["image"], {"z": z.numpy()})
        with torch.no_grad():
            want = shipped.decode(z).numpy()
        assert got.shape == want.shape == (batch, 1, 28, 28)
        assert np.abs(got - want).max() <= 1e-4, f"ONNX and PyTorch differ by {np.abs(got - want).max():.2e}"


def test_explorer_data_orders_the_sliders_by_kl_and_starts_at_each_class(shipped, fmnist):
    from helpers.latent import encode_dataset, kl_per_dim

    _, test = fmnist
    data = build_site.explorer_data(shipped, test.scaled()[:2000], test.labels[:2000], max_points=500)
    codes = encode_dataset(shipped, test.scaled()[:2000], test.labels[:2000])
    kl = kl_per_dim(codes)
    assert sorted(data["order"]) == list(range(shipped.latent_dim))
    assert [float(kl[d]) for d in data["order"]] == sorted(kl.tolist(), reverse=True)
    assert len(data["starts"]) == 10 and len(data["points"]) == 500
    first_sneaker = int(torch.nonzero(test.labels[:2000] == 7)[0])
    assert np.allclose(data["starts"][7], codes.mu[first_sneaker].numpy(), atol=1e-5)
    point = codes.mu[:1]
    pca = data["pca"]
    xy = (point - torch.tensor(pca["mean"])) @ torch.tensor(pca["components"]).T
    assert xy.shape == (1, 2)


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir):
    """The site, built once into a temporary folder and served on 127.0.0.1."""
    out = build_site.build(tmp_path_factory.mktemp("site") / "html", data_dir=data_dir)
    with build_site.serve(out) as url:
        yield out, url


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as pw:
        chromium = launch(pw)
        yield chromium
        chromium.close()


def _open(browser, url):
    """A new page at url, recording requests off the host, failed requests and script errors."""
    host = url.split("/")[2]
    page = browser.new_page()
    log = {"off_host": [], "failed": [], "errors": []}
    page.on("request", lambda r: None if r.url.split("/")[2:3] == [host] or r.url.startswith(("data:", "blob:"))
            else log["off_host"].append(r.url))
    page.on("requestfailed", lambda r: log["failed"].append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: log["failed"].append(f"{r.url} ({r.status})") if r.status >= 400 else None)
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    return page, log


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_offline_with_typeset_math_and_its_figures(site, browser, name):
    out, url = site
    page, log = _open(browser, f"{url}/{name}")
    page.goto(f"{url}/{name}", wait_until="load")
    html = (out / name).read_text()
    if "math notranslate" in html:  # the page has equations: MathJax must typeset them
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        assert page.locator("mjx-container").count() > 0, f"{name}: no equation was typeset"
        raw = page.evaluate("() => Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')).length")
        assert raw == 0, f"{name}: {raw} equations left as raw TeX"
    broken = page.evaluate("() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert broken == [], f"{name}: figures that did not load: {broken}"
    if name.startswith("notebooks/"):
        assert page.evaluate("() => document.images.length") > 0, f"{name}: no figures at all"
    if name == "notebooks/04_generation_interpolation.html":  # the explorer's kernel-free frames move
        before = page.get_attribute(".vx-frame", "src")
        page.locator(".vx-step").fill("0")
        assert page.get_attribute(".vx-frame", "src") != before, "04's precomputed frames do not follow their slider"
        assert page.locator("a[href$='explorer.html']").count() > 0, "04 does not link to the site's explorer"
    page.wait_for_load_state("networkidle")
    assert log["off_host"] == [], f"{name} requested from off the host: {log['off_host']}"
    assert log["failed"] == [] and log["errors"] == [], f"{name}: {log}"
    page.close()


def _canvas_bytes(page):
    """The explorer's 28x28 canvas as a (28, 28) uint8 array (its red channel: the image is grey)."""
    flat = page.evaluate("() => Array.from(document.getElementById('vx-image').getContext('2d')"
                         ".getImageData(0, 0, 28, 28).data)")
    return np.array(flat, dtype=np.uint8).reshape(28, 28, 4)[..., 0]


def test_the_explorer_decodes_every_slider_move_in_the_page_as_pytorch_does(site, browser, shipped):
    _, url = site
    page, log = _open(browser, f"{url}/explorer.html")
    page.goto(f"{url}/explorer.html", wait_until="load")
    page.evaluate("() => window.vaeExplorer.ready")
    before = _canvas_bytes(page)
    slider = page.locator("#vx-sliders input[type=range]").first
    slider.focus()
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    page.evaluate("() => new Promise(r => setTimeout(r, 200))")
    state = page.evaluate("() => ({inputs: vaeExplorer.inputs, timed: vaeExplorer.timings.length})")
    assert state["inputs"] == 12 and state["timed"] == 12, f"every move must be drawn: {state}"
    assert np.abs(_canvas_bytes(page).astype(int) - before).max() > 0, "moving a slider did not change the image"

    gen = torch.Generator().manual_seed(7)
    z = torch.randn(shipped.latent_dim, generator=gen) * 1.5
    page.evaluate("z => vaeExplorer.setCode(z)", z.tolist())
    with torch.no_grad():
        want = ((shipped.decode(z[None]) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[0, 0].numpy()
    got = _canvas_bytes(page)
    assert np.abs(got.astype(int) - want).max() <= 1, \
        f"the page's decode of a random code differs from PyTorch's by up to {np.abs(got.astype(int) - want).max()} grey levels"
    assert log["off_host"] == [] and log["failed"] == [] and log["errors"] == [], log
    page.close()
