"""Every helper at every image shape (C, H, W) in {1, 3} x {28, 32, 64}."""

import io

import matplotlib
import pytest
import torch
from PIL import Image

from helpers.checkpoint import load_checkpoint, save_checkpoint
from helpers.config import shipped_checkpoint_path
from helpers.cvae import ConditionalVAE
from helpers.evaluation import reconstruct
from helpers.latent import encode_dataset
from helpers.plots import class_scatter, image_grid
from helpers.train import train_vae
from helpers.image_vae import ImageVAE, conv_channels, model_loss
from helpers.widgets import LatentExplorer, to_png

matplotlib.use("Agg")
SHAPES = [(c, s, s) for c in (1, 3) for s in (28, 32, 64)]


@pytest.mark.parametrize("shape", SHAPES)
def test_model_encodes_decodes_and_samples_at_every_shape(shape, tmp_path):
    torch.manual_seed(0)
    model = ImageVAE(latent_dim=6, hidden=32, image_shape=shape)
    assert model.image_shape == shape
    x = torch.rand(5, *shape) * 2 - 1
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 6)
    out = model.decode(mu)
    assert out.shape == (5, *shape) and out.min() >= -1 and out.max() <= 1
    assert model.sample(3).shape == (3, *shape)
    assert torch.isfinite(model_loss(model, x)["loss"])
    assert reconstruct(model, x).shape == (5, *shape)
    path = save_checkpoint(tmp_path / "m.pt", model)
    again = load_checkpoint(path)
    assert again.image_shape == shape and torch.equal(again.decode(mu), model.eval().decode(mu))


def test_depth_follows_the_size():
    assert conv_channels((1, 28, 28)) == (32, 64)
    assert conv_channels((3, 32, 32)) == (16, 32, 64)
    assert conv_channels((1, 64, 64)) == (8, 16, 32, 64)
    assert ImageVAE(image_shape=(3, 64, 64)).feature_size == 4
    convs = [m for m in ImageVAE(image_shape=(1, 64, 64)).enc_conv if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(1, 8), (8, 16), (16, 32), (32, 64)]


def test_bad_shapes_are_refused_clearly():
    with pytest.raises(ValueError, match=r"image_shape=\(1, 48, 48\) is not allowed: use \(C, H, W\) with C in \(1, 3\)"):
        ImageVAE(image_shape=(1, 48, 48))
    with pytest.raises(ValueError, match="3 halvings do not divide the image side 28"):
        ImageVAE(image_shape=(1, 28, 28), channels=(8, 16, 32))
    with pytest.raises(ValueError, match="conditional VAE is made for Fashion-MNIST's"):
        ConditionalVAE(image_shape=(3, 64, 64))


def test_shipped_checkpoints_without_a_recorded_shape_load_as_28x28():
    model = load_checkpoint(shipped_checkpoint_path("vae"))
    assert model.image_shape == (1, 28, 28)
    assert model.decode(torch.zeros(2, model.latent_dim)).shape == (2, 1, 28, 28)


def test_training_takes_a_uint8_set_scaled_batch_by_batch():
    from helpers.images import ScaledImages

    torch.manual_seed(0)
    images = (torch.rand(64, 3, 32, 32) > 0.5).to(torch.uint8) * 255
    model = ImageVAE(latent_dim=4, hidden=16, image_shape=(3, 32, 32))
    x = ScaledImages(images)
    hist = train_vae(model, x, torch.zeros(64, dtype=torch.long), x, torch.zeros(64, dtype=torch.long),
                     epochs=1, batch_size=16, device="cpu", progress=False)
    assert len(hist["test_loss"]) == 1 and torch.isfinite(torch.tensor(hist["test_loss"]))


@pytest.mark.parametrize("shape", [(1, 64, 64), (3, 64, 64), (3, 32, 32)])
def test_plots_and_png_show_grey_and_colour(shape):
    x = torch.rand(6, *shape) * 2 - 1
    fig = image_grid(x, nrow=2, title="t")
    assert fig.axes[0].images[0].get_array().shape == ((shape[1], shape[2]) if shape[0] == 1 else shape[1:] + (3,))
    png = Image.open(io.BytesIO(to_png(x[0], scale=4)))
    assert png.size == (4 * shape[2], 4 * shape[1]) and png.mode == ("L" if shape[0] == 1 else "RGB")
    fig = class_scatter(torch.randn(6, 2), torch.tensor([0, 1, 2, 0, 1, 2]), "t", "x", "y",
                        class_names=("square", "ellipse", "heart"))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0: square", "1: ellipse", "2: heart"]


def test_explorer_is_live_at_64x64_in_colour():
    torch.manual_seed(0)
    model = ImageVAE(latent_dim=5, hidden=32, image_shape=(3, 64, 64))
    x = torch.rand(30, 3, 64, 64) * 2 - 1
    labels = torch.arange(30) % 3
    ex = LatentExplorer(model, encode_dataset(model, x, labels), x, class_names=("a", "b", "c"))
    assert ex.scale == 4 and ex.image.width == "256"
    before = ex.image.value
    ex.set_slider(0, ex.sliders[0].max)
    png = Image.open(io.BytesIO(ex.image.value))
    assert ex.image.value != before and png.size == (256, 256) and png.mode == "RGB"
    assert [o[0] for o in ex.class_dd.options] == ["a", "b", "c"] and ex.target_dd.value == 2
    ex.set_attribute(1, 1.0)
    with pytest.raises(Exception, match="use 0..2"):
        ex.set_attribute(3, 1.0)
    with pytest.raises(Exception, match="class_names has only 2 names"):
        LatentExplorer(model, encode_dataset(model, x, labels), x, class_names=("a", "b"))


def test_explorer_offers_only_classes_with_test_items():
    torch.manual_seed(0)
    model = ImageVAE(latent_dim=3, hidden=16, image_shape=(1, 32, 32))
    x = torch.rand(6, 1, 32, 32) * 2 - 1
    labels = torch.tensor([2, 2, 1, 2, 1, 2])  # no item of class 0
    ex = LatentExplorer(model, encode_dataset(model, x, labels), x, class_names=("none", "one", "two"))
    assert [o[1] for o in ex.class_dd.options] == [1, 2] and ex.class_dd.value == 1
    assert ex.status.value == "start: test item 2 (one)" and ex.b_class.value == 2 and ex.target_dd.value == 2


def test_shipped_shapes64_model_follows_the_public_api():
    from helpers.images import load_images

    model = load_checkpoint(shipped_checkpoint_path("shapes64"))
    assert model.image_shape == (1, 64, 64) and model.latent_dim == 10 and not model.conditional
    x = load_images("shapes64", "test", n=16).scaled().tensor()
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (16, 10)
    out = model.decode(mu)
    assert out.shape == (16, 1, 64, 64) and out.min() >= -1 and out.max() <= 1
    new = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert new.shape == (5, 1, 64, 64) and new.min() >= -1 and new.max() <= 1
