"""The one image loader (helpers.images): your own folders, downloads offline, Fashion-MNIST as before."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.data import DataError
from helpers.images import ImageSet, load_images, square_resize


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)
    return path


def _colour_folder(root, n=12):
    """n RGB images 100 x 80 (w x h): a red band left, green centre, blue band right."""
    for i in range(n):
        img = np.zeros((80, 100, 3), dtype=np.uint8)
        img[:, :10, 0] = 255
        img[:, 10:90, 1] = 100 + i
        img[:, 90:, 2] = 255
        _save(root / f"photo_{i:02d}.png", img)
    return root


def test_flat_colour_folder_is_centre_cropped_resized_and_split(tmp_path):
    root = _colour_folder(tmp_path / "mine")
    train, test = load_images(f"folder:{root}", "train"), load_images(f"folder:{root}", "test")
    assert isinstance(train, ImageSet) and len(train) == 11 and len(test) == 1
    assert train.images.shape == (11, 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.class_names == ("mine",) and train.labels.tolist() == [0] * 11
    # the 80 x 80 centre crop drops the red and blue bands: pure green is left
    assert train.images[:, 0].max() == 0 and train.images[:, 2].max() == 0
    assert set(train.images[:, 1].flatten().tolist()) <= set(range(100, 112))
    greens = sorted(int(im[1, 32, 32]) for im in torch.cat([train.images, test.images]))
    assert greens == list(range(100, 112))  # nothing lost between the two splits
    assert torch.equal(train.images, load_images(f"folder:{root}", "train").images)


def test_image_folder_layout_gives_classes_and_grey_images(tmp_path):
    for c, name in enumerate(("cats", "dogs")):
        for i in range(5):
            _save(tmp_path / "pets" / name / f"{i}.jpg", np.full((64, 64), 40 * c + i), mode="L")
    (tmp_path / "pets" / "notes.txt").write_text("not an image, ignored")
    both = [load_images(f"folder:{tmp_path / 'pets'}", s) for s in ("train", "test")]
    assert both[0].class_names == ("cats", "dogs")
    assert both[0].images.shape[1:] == (1, 64, 64)
    labels = torch.cat([b.labels for b in both]).sort().values
    assert labels.tolist() == [0] * 5 + [1] * 5
    assert load_images(f"folder:{tmp_path / 'pets'}", "train", channels=3).images.shape[1] == 3
    small = load_images(f"folder:{tmp_path / 'pets'}", "train", size=32)
    assert small.images.shape[1:] == (1, 32, 32)


def test_square_resize_crops_the_centre():
    img = Image.fromarray(np.concatenate([np.zeros((50, 25)), np.full((50, 50), 255), np.zeros((50, 25))], 1).astype(np.uint8))
    assert np.asarray(square_resize(img, 28)).min() == 255


@pytest.mark.parametrize("make, match", [
    (lambda root: root.mkdir(), "holds no images"),
    (lambda root: (_save(root / "a.png", np.zeros((64, 64))), (root / "bad.png").write_bytes(b"not a png")),
     r"bad\.png could not be read as an image"),
    (lambda root: (_save(root / "a.png", np.zeros((64, 64))), _save(root / "tiny.png", np.zeros((20, 40)))),
     r"tiny\.png is 40x20 pixels, too small to resize to 64x64: its shorter side must be at least 32"),
    (lambda root: (_save(root / "a.png", np.zeros((64, 64))), _save(root / "sub" / "b.png", np.zeros((64, 64)))),
     "holds images itself"),
    (lambda root: _save(root / "only.png", np.zeros((64, 64))), "holds 1 image; at least 2"),
    (lambda root: None, "no such folder"),
])
def test_bad_folders_get_an_error_naming_the_problem(tmp_path, make, match):
    root = tmp_path / "imgs"
    make(root)
    with pytest.raises(DataError, match=match):
        load_images(f"folder:{root}")


def test_bad_names_and_sizes_are_refused(tmp_path):
    with pytest.raises(DataError, match="dataset='mnist' is not allowed: use one of fashion-mnist, shapes64"):
        load_images("mnist")
    with pytest.raises(DataError, match="size=48 is not allowed: use 28, 32 or 64"):
        load_images(f"folder:{tmp_path}", size=48)
    with pytest.raises(DataError, match="n=0 is not allowed"):
        load_images("shapes64", n=0)


@pytest.mark.parametrize("name, cls", [("cifar10", "CIFAR10"), ("celeba", "CelebA")])
def test_downloads_offline_fail_clearly(monkeypatch, name, cls):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, cls, offline)
    with pytest.raises(DataError, match=r"needs internet once\. Offline\?.*shapes64 or folder:PATH"):
        load_images(name, "test", n=10)


def test_fashion_mnist_through_the_same_loader(data_dir):
    test = load_images("fashion-mnist", "test", n=100, data_dir=data_dir)
    assert test.images.shape == (100, 1, 28, 28) and test.image_shape == (1, 28, 28)
    assert test.class_names[0] == "T-shirt/top" and test.factors is None
    assert torch.equal(test.scaled().tensor(), test.scaled()[torch.arange(100)])


def test_transparent_pixels_are_composited_onto_white(tmp_path):
    """RGBA icons: a transparent pixel is white whatever colour it stores, a half-transparent red
    is half red, half white, an opaque pixel keeps its colour."""
    for i in range(4):
        img = np.zeros((64, 64, 4), dtype=np.uint8)          # transparent black everywhere
        img[:, :, 2] = 200                                     # ... storing blue that must not show
        img[20:44, 20:44] = (255, 0, 0, 255)                   # an opaque red square
        img[0:8, 0:8] = (255, 0, 0, 128)                       # a half-transparent red corner
        _save(tmp_path / "icons" / f"{i}.png", img, mode="RGBA")
    x = torch.cat([load_images(f"folder:{tmp_path / 'icons'}", s).images for s in ("train", "test")])
    assert x.shape == (4, 3, 64, 64)
    assert x[:, :, 50:, 50:].eq(255).all()                      # the transparent ground is white
    assert x[:, :, 30, 30].tolist() == [[255, 0, 0]] * 4       # opaque red stays red
    corner = x[:, :, 3, 3].float()                             # 255 * 0.5 + 255 * 0.5 = 255 red, 127 green and blue
    assert corner[:, 0].eq(255).all() and (corner[:, 1:] - 127).abs().le(1).all()
