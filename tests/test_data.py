import numpy as np
import pytest
import torch

from conftest import write_idx
from helpers import data as data_mod
from helpers.config import ParameterError
from helpers.data import (CLASS_NAMES, DataError, find_item, load_fashion_mnist, read_idx,
                          to_model_range, to_pixel_range)


def test_offline_folder_loads_both_splits_exactly(fmnist):
    train, test = fmnist
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10000, 28, 28)
    assert train.labels.dtype == torch.int64 and train.labels.shape == (60000,)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    # the label files are the originals: their first labels are the official ones
    assert test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert train.labels[:5].tolist() == [9, 0, 0, 3, 0]


def test_environment_variable_names_the_folder(data_dir, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(data_dir))
    assert len(load_fashion_mnist("test")) == 10000


def test_scaling_maps_bytes_to_minus_one_one_and_back():
    img = torch.tensor([[0, 255, 127, 128]], dtype=torch.uint8).expand(28, 4).reshape(1, 28, 4)
    img = torch.nn.functional.pad(img, (0, 24)).reshape(1, 28, 28)
    x = to_model_range(img)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x[0, 0, 0, 0].item() == -1.0 and x[0, 0, 0, 1].item() == 1.0
    assert x[0, 0, 0, 2].item() == pytest.approx(127 / 127.5 - 1)
    assert torch.equal(torch.round(to_pixel_range(x) * 255).to(torch.uint8)[:, 0], img)


def test_subset_is_seeded_and_sized(fmnist):
    train, _ = fmnist
    a, b = train.subset(500, seed=3), train.subset(500, seed=3)
    assert len(a) == 500 and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, train.subset(500, seed=4).labels)
    assert train.subset(None) is train


def _fake_folder(tmp_path, n=12, layout="flat", compress=True):
    rng = np.random.default_rng(0)
    folder = tmp_path / "fm"
    sub = folder if layout == "flat" else folder / "FashionMNIST" / "raw"
    ext = ".gz" if compress else ""
    for split, (img, lab) in data_mod._FILES.items():
        write_idx(sub / (img + ext), rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(sub / (lab + ext), np.arange(n) % 10, compress)
    return folder


@pytest.mark.parametrize("layout,compress", [("flat", True), ("torchvision", False), ("torchvision", True)])
def test_offline_folder_layouts(tmp_path, layout, compress):
    ds = load_fashion_mnist("test", _fake_folder(tmp_path, layout=layout, compress=compress))
    assert ds.images.shape == (12, 28, 28)
    assert ds.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_missing_folder_names_the_variable(tmp_path):
    with pytest.raises(DataError, match="FASHION_MNIST_DIR"):
        load_fashion_mnist("train", tmp_path / "nowhere")


def test_missing_file_is_named(tmp_path):
    folder = _fake_folder(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist("test", folder)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    folder = _fake_folder(tmp_path, n=200)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated or not a valid gzip"):
        load_fashion_mnist("test", folder)


def test_wrong_magic_number(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 28, 28)), magic=b"\x12\x34\x08\x03")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path, 3)


def test_short_payload_is_damaged(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(7))
    with pytest.raises(DataError, match="promises 10 bytes .* holds 7"):
        read_idx(path, 1)


def test_image_label_count_mismatch(tmp_path):
    folder = _fake_folder(tmp_path)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(11))
    with pytest.raises(DataError, match="12 images but .* 11 labels"):
        load_fashion_mnist("test", folder)


def test_offline_without_data_explains_what_to_do(tmp_path, monkeypatch):
    """No offline folder and no network: the download fails with a message naming the fixes."""
    import torchvision.datasets

    def no_network(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data_mod, "DEFAULT_DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", no_network)
    with pytest.raises(DataError) as err:
        load_fashion_mnist("train")
    msg = str(err.value)
    assert "FASHION_MNIST_DIR" in msg and "fashion-mnist.s3" in msg and "name resolution" in msg


def test_download_path_uses_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeTV:
        def __init__(self, root, train, download):
            assert download is True and root == str(tmp_path / "data")
            n = 6 if train else 3
            self.data = torch.zeros(n, 28, 28, dtype=torch.uint8)
            self.targets = torch.arange(n)

    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data_mod, "DEFAULT_DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeTV)
    ds = load_fashion_mnist("test")
    assert ds.images.shape == (3, 28, 28) and ds.labels.tolist() == [0, 1, 2]
    with pytest.raises(DataError, match="download=False"):
        load_fashion_mnist("test", download=False)


def test_find_item_forms(fmnist):
    _, test = fmnist
    assert find_item(test.labels, 17) == 17
    first_sneaker = find_item(test.labels, "Sneaker")
    assert test.labels[first_sneaker] == CLASS_NAMES.index("Sneaker") == 7
    assert test.labels[:first_sneaker].tolist().count(7) == 0
    third = find_item(test.labels, "Sneaker:3")
    assert test.labels[:third].tolist().count(7) == 3 and test.labels[third] == 7
    for bad, msg in [(10000, "0..9999"), ("Sock", "class name"), ("Bag:1000", "0..999"), ("Bag:x", "0..999")]:
        with pytest.raises(ParameterError, match=msg):
            find_item(test.labels, bad)


def test_half_finished_download_is_not_mistaken_for_data(tmp_path, monkeypatch):
    """A download cut off mid-file in data/FashionMNIST/raw/ ends in a clear error, not bad data."""
    folder = _fake_folder(tmp_path, n=300, layout="torchvision")
    part = folder / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz"
    part.write_bytes(part.read_bytes()[:1000])
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(data_mod, "DEFAULT_DATA_DIR", folder)
    with pytest.raises(DataError, match="half-finished download: delete it"):
        load_fashion_mnist("train")
    assert len(load_fashion_mnist("test")) == 300


def test_one_class_palette_for_plots_and_widgets():
    from matplotlib.colors import to_hex

    from helpers.data import CLASS_COLORS

    assert len(CLASS_COLORS) == len(CLASS_NAMES) == 10
    assert len({to_hex(c) for c in CLASS_COLORS}) == 10  # valid colours, no two classes alike
