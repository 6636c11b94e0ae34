import io
import json

import pytest
import torch
from PIL import Image

from conftest import tiny_model
from helpers.config import ParameterError
from helpers.data import class_item
from helpers.latent import encode_dataset
from helpers.sampler import fit_latent_mixture
from helpers.widgets import LatentExplorer, to_png


def _explorer(conditional=False):
    model = tiny_model(latent_dim=4, conditional=conditional, seed=1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    labels = torch.arange(40) % 10
    return LatentExplorer(model, encode_dataset(model, x, labels), x)


def test_png_is_upscaled_with_crisp_pixels():
    img = torch.full((1, 28, 28), -1.0)
    img[0, 0, 0] = 1.0
    png = Image.open(io.BytesIO(to_png(img, scale=8)))
    assert png.size == (224, 224) and png.mode == "L"
    px = png.load()
    assert px[0, 0] == 255 and px[7, 7] == 255 and px[8, 8] == 0 and px[8, 0] == 0


def test_slider_move_changes_the_image_deterministically():
    ex = _explorer()
    start_png, renders = ex.image.value, ex.renders
    s = ex.sliders[0]
    target = s.min + 0.9 * (s.max - s.min)
    ex.set_slider(0, target)
    assert ex.renders == renders + 1
    assert ex.image.value != start_png
    moved = ex.image.value
    assert Image.open(io.BytesIO(moved)).size == (224, 224)
    ex.reset()
    assert ex.image.value == start_png
    ex.set_slider(0, target)
    assert ex.image.value == moved


def test_reset_renders_once_and_restores_every_slider():
    ex = _explorer()
    start = [s.value for s in ex.sliders]
    for k, s in enumerate(ex.sliders):
        ex.set_slider(k, s.max)
    before = ex.renders
    ex.reset()
    assert ex.renders == before + 1
    assert [s.value for s in ex.sliders] == start


def test_picking_a_start_item_moves_every_slider():
    ex = _explorer()
    ex.class_dd.value = 3
    index = 3  # first item of class 3 in the fixture
    # sliders show coordinates relative to the test codes' mean
    assert [round(s.value, 5) for s in ex.sliders] == \
        [round(float(ex.codes.mu[index, i] - ex.center[i]), 5) for i in ex.dims]
    assert "test item 3" in ex.status.value
    assert torch.equal(ex.current_code(), ex.codes.mu[index])
    ex.kth.value = 2
    assert [round(s.value, 5) for s in ex.sliders] == \
        [round(float(ex.codes.mu[23, i] - ex.center[i]), 5) for i in ex.dims]


def test_random_start_is_seeded():
    ex = _explorer()
    ex.start_from_prior(seed=5)
    a = ex.image.value
    ex.start_from_prior(seed=6)
    assert ex.image.value != a
    ex.start_from_prior(seed=5)
    assert ex.image.value == a


def test_bad_values_are_refused_clearly():
    ex = _explorer()
    with pytest.raises(ParameterError, match=r"slider z\[\d+\]=99 is outside its range"):
        ex.set_slider(0, 99)
    with pytest.raises(ParameterError, match="k=7 is not allowed: T-shirt/top has 4 items, so k must be in 0..3"):
        class_item(ex.codes.labels, 0, 7)  # the lookup behind the explorer's (class, k-th) pickers
    ex.class_dd.value = 1
    assert ex.kth.max == 3  # the k-th box only offers the class's own items


def test_conditional_model_decodes_the_chosen_class():
    ex = _explorer(conditional=True)
    assert not ex.decode_class.disabled
    a = ex.image.value
    ex.decode_class.value = (ex.decode_class.value + 5) % 10
    assert ex.image.value != a


def test_switching_mode_relabels_and_moves_every_slider_but_keeps_the_code():
    ex = _explorer()
    ex.set_slider(1, ex.sliders[1].min + 0.3 * (ex.sliders[1].max - ex.sliders[1].min))
    code, png = ex.current_code().clone(), ex.image.value
    ex.set_mode("principal directions")
    assert [s.description for s in ex.sliders][0].startswith("PC1 (")
    coords = (code - ex.center) @ ex.pca.components.T
    for s, c in zip(ex.sliders, coords.tolist()):
        assert s.value == pytest.approx(min(max(c, s.min), s.max), abs=1e-6)
    assert torch.allclose(ex.current_code(), code) and ex.image.value == png
    # moving a principal-direction slider moves the code along that direction only
    ex.set_slider(0, 0.0)
    moved = ex.current_code() - code
    assert torch.allclose(moved, (0.0 - coords[0]) * ex.pca.components[0], atol=1e-5)
    ex.set_mode("latent dimensions")
    assert [s.description for s in ex.sliders] == [f"z[{i}]" for i in ex.dims]


def test_attribute_slider_moves_along_the_class_mean_direction():
    ex = _explorer()
    ex.class_dd.value = 7
    start_png = ex.image.value
    ex.set_attribute(5, 1.0)
    assert torch.allclose(ex.current_code(), ex.start + ex.class_means[5] - ex.class_means[7])
    assert ex.image.value != start_png
    ex.set_attribute(5, 0.0)
    assert ex.image.value == start_png


def test_interpolation_slider_runs_from_item_a_to_item_b():
    ex = _explorer()
    a_png = ex.image.value
    ex.b_class.value = 4
    ex.b_kth.value = 1  # test item 14
    ex.set_interpolation(1.0)
    assert torch.allclose(ex.current_code(), ex.codes.mu[14], atol=1e-5)
    assert ex.image.value == to_png(ex.model.decode(ex.codes.mu[14:15])[0])
    assert ex.t.value == 1.0
    ex.method.value = "lerp"
    half_lerp = ex.current_code().clone()
    ex.set_interpolation(0.5)
    assert torch.allclose(ex.current_code(), (ex.start + ex.codes.mu[14]) / 2, atol=1e-5)
    assert not torch.allclose(half_lerp, ex.current_code())
    ex.set_interpolation(0.0)
    assert ex.image.value == a_png


def test_the_map_marker_follows_the_code():
    ex = _explorer()
    a = ex.map_image.value
    assert Image.open(io.BytesIO(a)).size == (200, 200)
    ex.set_slider(0, ex.sliders[0].max)
    assert ex.map_image.value != a
    ex.reset()
    assert ex.map_image.value == a


def test_bad_mode_t_and_amount_are_refused():
    ex = _explorer()
    with pytest.raises(ParameterError, match="mode='pca' is not allowed"):
        ex.set_mode("pca")
    with pytest.raises(ParameterError, match="t=1.5 is not allowed"):
        ex.set_interpolation(1.5)
    with pytest.raises(ParameterError, match="amount=3.0 is not allowed"):
        ex.set_attribute(2, 3.0)
    with pytest.raises(ParameterError, match="target class=12 is not allowed"):
        ex.set_attribute(12, 1.0)


def test_many_latent_dims_show_the_most_varied_ones():
    from conftest import tiny_model as make

    model = make(latent_dim=20)
    x = torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    codes = encode_dataset(model, x, torch.arange(30) % 10)
    ex = LatentExplorer(model, codes, x, max_sliders=6)
    assert len(ex.sliders) == 6
    top = torch.argsort(codes.mu.std(0), descending=True)[:6].sort().values.tolist()
    assert ex.dims == top


def test_random_start_of_a_conditional_model_is_drawn_around_the_class_prior_mean():
    ex = _explorer(conditional=True)
    with torch.no_grad():
        ex.model.prior_mu.copy_(torch.arange(40, dtype=torch.float32).view(10, 4))
    ex.decode_class.value = 3
    ex.start_from_prior(seed=9)
    eps = torch.randn(4, generator=torch.Generator().manual_seed(9))
    assert torch.allclose(ex.start, eps + torch.tensor([12.0, 13.0, 14.0, 15.0]))


def test_random_start_from_the_fitted_sampler_is_seeded_and_labelled():
    ex = _explorer()
    assert ex.sampler_btn.disabled  # no fitted sampler yet
    with pytest.raises(ParameterError, match="this model has no fitted sampler"):
        ex.start_from_sampler(seed=1)
    ex.model.sampler = fit_latent_mixture(ex.codes, conditional=False, components=2)
    ex = LatentExplorer(ex.model, ex.codes, ex.images)
    assert not ex.sampler_btn.disabled
    ex.start_from_sampler(seed=4)
    assert "random draw from the fitted sampler (seed 4)" in ex.status.value
    assert torch.equal(ex.start, ex.model.sampler.draw(1, None, torch.Generator().manual_seed(4))[0])
    assert torch.equal(ex.current_code(), ex.start) and ex.original.value == b""
    a = ex.image.value
    ex.start_from_prior(seed=4)
    assert "random draw from the prior (seed 4)" in ex.status.value and ex.image.value != a
    ex.sampler_btn.click()  # the button draws with the next seed
    assert "fitted sampler (seed 1)" in ex.status.value


def test_random_start_of_a_conditional_model_from_the_fitted_sampler_stays_in_the_class():
    ex = _explorer(conditional=True)
    ex.model.sampler = fit_latent_mixture(ex.codes, conditional=True, components=1)
    ex.decode_class.value = 6
    ex.start_from_sampler(seed=2)
    expected = ex.model.sampler.draw(1, torch.tensor([6]), torch.Generator().manual_seed(2))[0]
    assert torch.equal(ex.start, expected)
    assert ex.decode_class.value == 6


def test_a_static_view_shows_a_still_picture_of_the_traversals_not_the_widgets_text():
    """Displayed as ``explorer``: the live widget for JupyterLab, and a PNG for GitHub / nbviewer
    whose tiles are the model's own decodes of the traversal codes (start item in the first column)."""
    import base64
    import numpy as np
    from helpers.data import to_pixel_range
    from helpers.latent import traversal_codes
    ex = _explorer()
    ex.start_from_item(5)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert not bundle["text/plain"].startswith("VBox")
    png = np.array(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))))
    head = 14                                                      # the column labels' strip
    assert png.shape == (head + 4 * 28 * 3, (8 * 28 + 14) * 3)    # start column, label band, 7 steps; 4 rows; 3x
    spread = ex.codes.mu.std(0)
    dims = torch.argsort(spread, descending=True)[:4]
    z = traversal_codes(ex.current_code(), dims, spread[dims, None] * torch.linspace(-3, 3, 7))
    with torch.no_grad():
        want = to_pixel_range(ex.model.decode(z, torch.zeros(len(z), dtype=torch.long))).numpy() * 255
    for r in range(4):
        for c in (0, 3, 6):
            tile = png[head + r * 84:head + (r + 1) * 84:3, (42 + 28 * c) * 3:(42 + 28 * (c + 1)) * 3:3]
            assert np.abs(tile - want[r * 7 + c, 0]).max() <= 0.5 + 1e-3
        assert png[head + r * 84:head + (r + 1) * 84, 84:126].min() < 128      # the row's z[i] label
        assert png[head + r * 84:head + (r + 1) * 84, 84:126].max() == 255
    for c in (0, 3, 6):
        assert png[:head, (42 + 28 * c) * 3:(42 + 28 * (c + 1)) * 3].min() < 128   # -3 sd, 0, +3 sd
    assert png[:head, (42 + 28) * 3:(42 + 56) * 3].min() == 255                   # no label over the second step
    start = png[head:head + 84:3, :84:3]
    assert np.abs(start - to_pixel_range(ex.images[5, 0]).numpy() * 255).max() <= 0.5 + 1e-3
    ex.start_from_prior(seed=1)   # a random start has no item to show: a black first column, no label
    still = np.array(Image.open(io.BytesIO(ex.snapshot_png())))
    assert still[head:head + 84, :84].max() == 0 and still[:head, :84].min() == 255


def test_the_kernel_free_frames_are_the_models_decodes_and_a_range_slider_swaps_them():
    """The static view's HTML (nbviewer, the book site): under 2 MB, each frame the model's decode of
    the code moved along one of the most-spread dimensions, and in a real browser (no kernel) moving
    its range input and its dimension menu shows another precomputed frame."""
    import base64
    import re
    import numpy as np
    from helpers.data import to_pixel_range
    from helpers.latent import traversal_codes
    ex = _explorer()
    ex.start_from_item(3)
    html = ex._repr_mimebundle_()["text/html"]
    assert len(html.encode()) < 2_000_000 and 'type="range"' in html
    frames = json.loads(re.search(r"frames = (\[\[.*?\]\]),", html).group(1))
    assert len(frames) == 4 and {len(row) for row in frames} == {25}
    spread = ex.codes.mu.std(0)
    dims = torch.argsort(spread, descending=True)[:4]
    z = traversal_codes(ex.current_code(), dims, spread[dims, None] * torch.linspace(-3, 3, 25))
    with torch.no_grad():
        want = to_pixel_range(ex.model.decode(z, torch.zeros(len(z), dtype=torch.long))).numpy() * 255
    for r, k in ((0, 0), (1, 12), (3, 24)):
        frame = np.array(Image.open(io.BytesIO(base64.b64decode(frames[r][k]))))[:: ex.scale, :: ex.scale]
        assert np.abs(frame - want[r * 25 + k, 0]).max() <= 0.5 + 1e-3
    playwright = pytest.importorskip("playwright.sync_api")
    from test_browser import launch
    with playwright.sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(f"<html><body>{html}</body></html>")
        source = lambda: page.get_attribute(".vx-frame", "src")  # noqa: E731
        assert source().endswith(frames[0][12])
        page.locator(".vx-step").fill("24")
        assert source().endswith(frames[0][24])
        page.select_option(".vx-dim", "2")
        assert source().endswith(frames[2][24]) and errors == []
        browser.close()


def test_the_explorer_starts_from_the_items_it_is_given_and_names_a_bad_one():
    default = _explorer()
    ex = LatentExplorer(default.model, default.codes, default.images, start=27, item_b=12)
    assert ex._start_index == 27 and torch.equal(ex.start, default.codes.mu[27].float())
    assert (ex.class_dd.value, ex.kth.value) == (7, 2)   # item 27 is the third of class 7 (labels: index % 10)
    assert ex.index_b == 12 and torch.equal(ex.z_b, default.codes.mu[12])
    assert ex.original.value == to_png(default.images[27], ex.scale)
    ex.set_interpolation(1.0)
    assert torch.allclose(ex.current_code(), default.codes.mu[12], atol=1e-5)
    for bad in (40, -1, 2.5, "Sneaker"):
        with pytest.raises(ParameterError, match=f"start={bad!r} is not allowed"):
            LatentExplorer(default.model, default.codes, default.images, start=bad)
