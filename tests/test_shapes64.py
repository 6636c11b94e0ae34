"""The shapes64 factor grid (helpers.shapes): count, factors, determinism, drawn references."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import shapes
from helpers.images import load_images


def test_grid_has_every_factor_combination_once():
    assert shapes.FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert shapes.NUM_IMAGES == 737_280
    idx = torch.tensor([0, 1, 31, 32, 1023, 1024, 40_959, 40_960, 245_759, 245_760, 737_279])
    f = shapes.factors_of(idx)
    assert f[0].tolist() == [0, 0, 0, 0, 0]
    assert f[1].tolist() == [0, 0, 0, 0, 1]          # y is the fastest factor
    assert f[3].tolist() == [0, 0, 0, 1, 0]
    assert f[5].tolist() == [0, 0, 1, 0, 0]
    assert f[7].tolist() == [0, 1, 0, 0, 0]
    assert f[9].tolist() == [1, 0, 0, 0, 0]          # shape is the slowest
    assert f[10].tolist() == [2, 5, 39, 31, 31]
    assert torch.equal(shapes.index_of(f), idx)
    values = shapes.factor_values(torch.tensor([737_279]))[0]
    assert values[1] == 1.0 and values[3] == 1.0 and values[4] == 1.0
    assert values[2] == pytest.approx(39 * 2 * math.pi / 40)
    assert np.allclose(shapes.FACTOR_VALUES[1], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


def test_bad_indices_and_factors_are_refused():
    with pytest.raises(ValueError, match="737280 is outside the shapes64 grid: use 0..737279"):
        shapes.render([737_280])
    with pytest.raises(ValueError, match="index -1 is outside"):
        shapes.factors_of([-1])
    with pytest.raises(ValueError, match="whole numbers"):
        shapes.render(np.array([0.5]))
    with pytest.raises(ValueError, match="rows of 5 indices below"):
        shapes.index_of([[3, 0, 0, 0, 0]])


def test_drawing_is_binary_deterministic_and_independent_of_the_batch():
    idx = torch.tensor([5, 123_456, 700_001, 400_000])
    a = shapes.render(idx)
    assert a.shape == (4, 1, 64, 64) and a.dtype == torch.uint8
    assert set(a.unique().tolist()) == {0, 255}
    assert torch.equal(a, shapes.render(idx))
    assert torch.equal(a[1], shapes.render(torch.tensor([9, 123_456]))[1])
    assert torch.equal(a, shapes.render(idx, chunk=1))


def _reference(inside) -> np.ndarray:
    """A 64 x 64 drawing made pixel by pixel in plain Python: 255 where inside(px, py) at the pixel centre."""
    img = np.zeros((64, 64), dtype=np.uint8)
    for row in range(64):
        for col in range(64):
            if inside(col + 0.5, row + 0.5):
                img[row, col] = 255
    return img


def _drawn(shape, scale, orientation, x, y) -> np.ndarray:
    return shapes.render(shapes.index_of([[shape, scale, orientation, x, y]]))[0, 0].numpy()


def test_upright_square_is_a_22_pixel_block_at_the_top_left():
    img = _drawn(0, 5, 0, 0, 0)  # square, scale 1, no turn, x = y = 0: centre at pixel (16, 16)
    ref = np.zeros((64, 64), dtype=np.uint8)
    ref[5:27, 5:27] = 255
    assert np.array_equal(img, ref)


def test_square_turned_an_eighth_is_a_diamond():
    img = _drawn(0, 5, 5, 31, 31)  # 5/40 of a turn = 45 degrees; centre (48, 48)
    half = 11.0 * math.sqrt(2)
    assert np.array_equal(img, _reference(lambda px, py: abs(px - 48) + abs(py - 48) <= half))


def test_ellipse_at_half_scale_is_twice_as_wide_as_high():
    cx = 16 + 32 * 10 / 31
    img = _drawn(1, 0, 0, 10, 0)  # ellipse, scale 0.5: half axes 5.5 and 2.75 pixels
    assert np.array_equal(img, _reference(lambda px, py: ((px - cx) / 5.5) ** 2 + ((py - 16) / 2.75) ** 2 <= 1))
    rows, cols = np.nonzero(img)
    assert cols.max() - cols.min() + 1 == 11 and rows.max() - rows.min() + 1 == 6


def test_heart_points_down_and_is_symmetric():
    img = _drawn(2, 5, 0, 15, 15)
    cx = cy = 16 + 32 * 15 / 31

    def inside(px, py):
        hx, hy = 1.15 * (px - cx) / 11, 0.15 - 1.15 * (py - cy) / 11
        return (hx * hx + hy * hy - 1) ** 3 - hx * hx * hy ** 3 <= 0

    ref = _reference(inside)
    assert (img != ref).sum() <= 2  # float rounding on the curve itself may flip a boundary pixel
    rows, cols = np.nonzero(img)
    top_width = (img[rows.min() + 2] > 0).sum()
    bottom_width = (img[rows.max() - 2] > 0).sum()
    assert top_width > bottom_width  # two lobes on top, the point at the bottom


def test_every_sprite_stays_inside_the_frame():
    corners = shapes.index_of([[s, 5, o, x, y] for s in range(3) for o in range(40) for x in (0, 31) for y in (0, 31)])
    img = shapes.render(corners)[:, 0]
    edge = torch.cat([img[:, 0, :], img[:, -1, :], img[:, :, 0], img[:, :, -1]], dim=1)
    assert edge.sum() == 0 and (img > 0).flatten(1).sum(1).min() > 100


def test_split_is_fixed_disjoint_and_complete():
    train, test = shapes.split_indices("train"), shapes.split_indices("test")
    assert len(test) == 73_728 and len(train) == 737_280 - 73_728
    assert torch.equal(torch.cat([train, test]).sort().values, torch.arange(737_280))
    assert torch.equal(test, shapes.split_indices("test"))
    with pytest.raises(ValueError, match="split='val' is not allowed"):
        shapes.split_indices("val")


def test_loader_draws_a_seeded_subset_with_its_factors():
    a = load_images("shapes64", "test", n=50, seed=3)
    assert a.images.shape == (50, 1, 64, 64) and a.image_shape == (1, 64, 64)
    assert a.class_names == ("square", "ellipse", "heart")
    assert torch.equal(a.labels, a.factors[:, 0])
    assert torch.equal(a.factors, shapes.factors_of(a.indices))
    assert torch.equal(a.images, shapes.render(a.indices))
    assert set(a.indices.tolist()) <= set(shapes.split_indices("test").tolist())
    assert torch.equal(a.indices, load_images("shapes64", "test", n=50, seed=3).indices)
    x = a.scaled()
    assert len(x) == 50 and x[torch.tensor([0, 1])].shape == (2, 1, 64, 64) and x[3].shape == (1, 64, 64)
    assert set(x.tensor().unique().tolist()) == {-1.0, 1.0}


def test_heldout_shapes_are_drawn_independently_within_their_stated_ranges():
    """tools/heldout_shapes.py: Pillow's polygons, not helpers.shapes; binary, seeded, sizes and centres
    as stated (a square of half side h covers about (2h)^2 pixels, an ellipse pi * h * 0.6 h)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from heldout_shapes import ASPECT, draw_heldout

    images, kinds = draw_heldout(400, seed=3)
    assert images.shape == (400, 1, 64, 64) and images.dtype == torch.uint8
    assert set(images.unique().tolist()) == {0, 255}
    assert kinds.tolist() == [0, 1] * 200
    assert torch.equal(images, draw_heldout(400, seed=3)[0]) and not torch.equal(images, draw_heldout(400, seed=4)[0])
    area = (images > 0).flatten(1).sum(1).float()
    side_sq, side_ell = (area[kinds == 0] / 4).sqrt(), (area[kinds == 1] / (math.pi * ASPECT)).sqrt()
    for half in (side_sq, side_ell):  # the half size back from the area: 5 to 10 pixels, up to rasterisation
        assert half.min() > 4.5 and half.max() < 11.0  # Pillow fills the outline pixels too
    ys, xs = torch.meshgrid(torch.arange(64.0) + 0.5, torch.arange(64.0) + 0.5, indexing="ij")
    on = (images[:, 0] > 0).float()
    cx, cy = (on * xs).flatten(1).sum(1) / area, (on * ys).flatten(1).sum(1) / area
    assert cx.min() > 15 and cx.max() < 49 and cy.min() > 15 and cy.max() < 49   # the middle half of the frame
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        draw_heldout(0)


def test_shipped_shapes64_model_keeps_shape_on_held_out_and_test_shapes():
    """The floors of checkpoints/shapes64.pt: mean IoU >= 0.85 on 1,000 independently drawn squares and
    ellipses, and >= 0.80 for each of the three shapes of the project's test split (1,500 images)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from heldout_shapes import heldout_iou, project_test_iou

    from helpers.model import load_checkpoint

    model = load_checkpoint(Path(__file__).resolve().parents[1] / "checkpoints" / "shapes64.pt").eval()
    assert heldout_iou(model, n=1000, seed=1)["all"] >= 0.85
    for name, score in project_test_iou(model, n=1500, seed=2).items():
        assert score >= 0.80, name
