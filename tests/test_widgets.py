import io

import pytest
import torch
from PIL import Image

from conftest import tiny_model
from helpers.config import ParameterError
from helpers.latent import encode_dataset
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
    assert [round(s.value, 5) for s in ex.sliders] == \
        [round(float(ex.codes.mu[index, i]), 5) for i in ex.dims]
    assert "test item 3" in ex.status.value
    ex.nth.value = 2
    assert [round(s.value, 5) for s in ex.sliders] == \
        [round(float(ex.codes.mu[23, i]), 5) for i in ex.dims]


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
    with pytest.raises(ParameterError, match="has 4 test items, pick 0..3"):
        ex._index_of(0, 7)


def test_conditional_model_decodes_the_chosen_class():
    ex = _explorer(conditional=True)
    assert not ex.decode_class.disabled
    a = ex.image.value
    ex.decode_class.value = (ex.decode_class.value + 5) % 10
    assert ex.image.value != a
