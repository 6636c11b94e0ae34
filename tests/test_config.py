"""The one table of parameter rules: each rule's boundaries and its message."""

import pytest

from helpers.config import RULES, ParameterError, check_parameters, default_checkpoint
import helpers.data  # noqa: F401  (registers the GENERATE_CLASS rule beside the class names)


@pytest.mark.parametrize("params,message", [
    ({"LATENT_DIM": 0}, "LATENT_DIM=0 is not allowed: LATENT_DIM must be a whole number between 1 and 512."),
    ({"LATENT_DIM": 2.5}, "LATENT_DIM=2.5 is not allowed"),
    ({"EPOCHS": -3}, "EPOCHS=-3 is not allowed: EPOCHS must be a whole number >= 1."),
    ({"EPOCHS": True}, "EPOCHS=True is not allowed"),
    ({"BATCH_SIZE": "64"}, "BATCH_SIZE='64' is not allowed"),
    ({"LIKELIHOOD": "poisson"}, "LIKELIHOOD='poisson' is not allowed: LIKELIHOOD must be one of 'gaussian', 'bernoulli'."),
    ({"BETA": -1.0}, "BETA=-1.0 is not allowed: BETA must be a finite number >= 0."),
    ({"BETA": float("nan")}, "BETA=nan is not allowed"),
    ({"LEARNING_RATE": 0}, "LEARNING_RATE=0 is not allowed: LEARNING_RATE must be a finite number > 0."),
    ({"TRAIN_SUBSET": 70000}, "TRAIN_SUBSET=70000 is not allowed: TRAIN_SUBSET must be a whole number between 1 and 60000 (or None)."),
    ({"DEVICE": "gpu"}, "DEVICE='gpu' is not allowed: DEVICE must be one of 'auto', 'cpu', 'cuda', 'mps'."),
    ({"STEPS": 1}, "STEPS=1 is not allowed: STEPS must be a whole number between 2 and 50."),
    ({"CONDITIONAL": 1}, "CONDITIONAL=1 is not allowed: CONDITIONAL must be one of False, True."),
    ({"CHECKPOINT": 3}, "CHECKPOINT=3 is not allowed: CHECKPOINT must be a path or 'auto'."),
    ({"DATA_DIR": ""}, "DATA_DIR='' is not allowed"),
    ({"GENERATE_CLASS": "Sock"}, "GENERATE_CLASS='Sock' is not allowed: GENERATE_CLASS must be one of 'T-shirt/top'"),
])
def test_a_bad_value_names_the_parameter_the_value_and_what_is_allowed(params, message):
    with pytest.raises(ParameterError) as err:
        check_parameters(SEED=0, **params)
    assert message in str(err.value)


def test_good_values_pass_and_boundaries_are_inclusive():
    check_parameters(SEED=0, LATENT_DIM=512, EPOCHS=1, BETA=0, LEARNING_RATE=1e-9, TRAIN_SUBSET=None,
                     DATA_DIR=None, STEPS=2, CHECKPOINT="auto", CONDITIONAL=False, GENERATE_CLASS="Bag")
    check_parameters(TRAIN_SUBSET=60000, STEPS=50, N_POINTS=10000, DATA_DIR="/some/folder")


def test_an_unknown_parameter_is_a_programming_error_not_a_silent_pass():
    with pytest.raises(KeyError, match="no rule for parameter 'EPOCH'"):
        check_parameters(EPOCH=3)
    assert "EPOCHS" in RULES


def test_default_checkpoint_prefers_the_learners_run(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_LAB_RUNS_DIR", str(tmp_path))
    assert default_checkpoint("vae").parent.name == "checkpoints"
    (tmp_path / "vae.pt").write_bytes(b"x")
    assert default_checkpoint("vae") == tmp_path / "vae.pt"
    assert default_checkpoint("cvae").name == "cvae.pt" and default_checkpoint("cvae").parent.name == "checkpoints"
    with pytest.raises(ValueError, match="name='vae3' is not allowed"):
        default_checkpoint("vae3")


def test_smoke_sizes_cap_only_in_the_quick_run_and_keep_smaller_injected_values(monkeypatch):
    from helpers.config import smoke_sizes
    space = {"EPOCHS": 10, "TRAIN_SUBSET": None, "N_POINTS": 300}
    monkeypatch.delenv("VAE_LAB_SMOKE", raising=False)
    smoke_sizes(space, EPOCHS=1, TRAIN_SUBSET=2000, N_POINTS=1000)
    assert space == {"EPOCHS": 10, "TRAIN_SUBSET": None, "N_POINTS": 300}      # a learner's run: untouched
    monkeypatch.setenv("VAE_LAB_SMOKE", "1")
    smoke_sizes(space, EPOCHS=1, TRAIN_SUBSET=2000, N_POINTS=1000)
    assert space == {"EPOCHS": 1, "TRAIN_SUBSET": 2000, "N_POINTS": 300}       # capped; None ("all") -> the cap
