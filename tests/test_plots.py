"""The plotting helpers the lesson calls: what their axes show, and their errors."""

import matplotlib

matplotlib.use("Agg")

import pytest

from helpers.plots import loss_curves


HISTORY = {"train_loss": [400.0, 50.0, 20.0, 10.0], "test_loss": [300.0, 40.0, 15.0, 12.0],
           "train_recon": [390.0, 30.0, -5.0, -20.0], "test_recon": [290.0, 20.0, -10.0, -18.0],
           "train_kl": [10.0, 20.0, 25.0, 30.0], "test_kl": [10.0, 20.0, 25.0, 30.0]}


def test_loss_curves_frame_the_later_epochs_and_keep_the_kl_whole():
    fig = loss_curves(HISTORY, zoom_from=3, title="run")
    loss_ax, recon_ax, kl_ax = fig.axes
    low, high = loss_ax.get_ylim()
    assert low < 10.0 and 20.0 < high < 50.0          # epochs 3-4 fill the panel; epoch 1's 400 is off it
    low, high = recon_ax.get_ylim()
    assert low < -20.0 and -5.0 < high < 20.0
    low, high = kl_ax.get_ylim()
    assert low <= 10.0 and high >= 30.0               # the KL panel shows every epoch
    assert fig._suptitle.get_text() == "run"


def test_loss_curves_show_every_epoch_by_default_and_with_one_epoch():
    low, high = loss_curves(HISTORY).axes[0].get_ylim()
    assert low <= 10.0 and high >= 400.0
    one = {k: v[:1] for k, v in HISTORY.items()}
    low, high = loss_curves(one, zoom_from=3).axes[0].get_ylim()
    assert low <= 300.0 <= 400.0 <= high            # nothing to zoom past: the one epoch is shown


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_loss_curves_refuse_a_bad_zoom(bad):
    with pytest.raises(ValueError, match=f"zoom_from={bad!r}"):
        loss_curves(HISTORY, zoom_from=bad)
