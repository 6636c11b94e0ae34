import pytest
import torch

from conftest import tiny_model
from helpers.config import ParameterError
from helpers.latent import encode_dataset
from helpers.sampler import fit_latent_mixture
from helpers.model import load_checkpoint, read_checkpoint
from helpers.train import (HISTORY_KEYS, TrainingError, choose_device, choose_precision, make_optimizer,
                           make_scheduler, planned_rates, set_seed, train_vae)

LOSS_KEYS = [k for k in HISTORY_KEYS if k != "epoch_seconds"]


@pytest.fixture(scope="module")
def small(fmnist):
    train, test = fmnist
    tr, te = train.subset(256, seed=0), test.subset(128, seed=0)
    return tr.scaled(), tr.labels, te.scaled(), te.labels


def _run(small, epochs=2, seed=0, **kw):
    set_seed(seed)
    model = tiny_model(seed=seed)
    hist = train_vae(model, *small, epochs=epochs, batch_size=64, seed=seed, device="cpu",
                     progress=False, **kw)
    return model, hist


def test_history_has_one_entry_per_epoch_and_loss_falls(small):
    model, hist = _run(small, epochs=3)
    assert all(len(hist[k]) == 3 for k in HISTORY_KEYS)
    for split in ("train", "test"):
        for i in range(3):
            assert hist[f"{split}_loss"][i] == pytest.approx(hist[f"{split}_recon"][i] + hist[f"{split}_kl"][i], rel=1e-5)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert not model.training


def test_same_seed_same_history_other_seed_other_history(small):
    _, a = _run(small, seed=3)
    _, b = _run(small, seed=3)
    _, c = _run(small, seed=4)
    assert [a[k] for k in LOSS_KEYS] == [b[k] for k in LOSS_KEYS]
    assert a["train_loss"] != c["train_loss"]


def test_checkpoint_each_epoch_and_exact_resume(small, tmp_path):
    straight, hist = _run(small, epochs=3, checkpoint=tmp_path / "a.pt")
    _run(small, epochs=1, checkpoint=tmp_path / "b.pt")
    assert read_checkpoint(tmp_path / "b.pt")["training_state"]["epoch"] == 1
    resumed, hist_b = _run(small, epochs=3, checkpoint=tmp_path / "b.pt", resume=True)
    assert [hist[k] for k in LOSS_KEYS] == [hist_b[k] for k in LOSS_KEYS]
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    saved = load_checkpoint(tmp_path / "b.pt")
    assert saved.history["train_loss"] == hist["train_loss"]
    assert saved.config["epochs"] == 3 and saved.config["seed"] == 0


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(small, tmp_path):
    path = tmp_path / "c.pt"
    _run(small, epochs=1, checkpoint=path)
    good = path.read_bytes()
    bad = (small[0].clone(), small[1], small[2], small[3])
    bad[0][5, 0, 3, 3] = float("nan")
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 2.*last good checkpoint"):
        _run(bad, epochs=2, checkpoint=path, resume=True)
    assert path.read_bytes() == good
    assert read_checkpoint(path)["training_state"]["epoch"] == 1


def test_conditional_model_trains_and_a_stale_fitted_sampler_is_dropped(small, tmp_path):
    set_seed(0)
    model = tiny_model(conditional=True)
    model.sampler = fit_latent_mixture(encode_dataset(model, small[0], small[1]), conditional=True, components=1)
    hist = train_vae(model, *small, epochs=1, batch_size=64, device="cpu", progress=False,
                     checkpoint=tmp_path / "c.pt")
    assert len(hist["train_loss"]) == 1 and model.num_classes == 10
    assert model.sampler is None and "sampler" not in read_checkpoint(tmp_path / "c.pt")


def test_bad_training_parameters(small):
    model = tiny_model()
    for kw, msg in [({"epochs": 0}, "EPOCHS=0"), ({"batch_size": 2.5}, "BATCH_SIZE=2.5"),
                    ({"beta": -1.0}, "BETA=-1.0")]:
        with pytest.raises(ParameterError, match=msg):
            train_vae(model, *small, progress=False, device="cpu", **kw)


def test_device_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device("auto").type == "cpu"
    assert choose_device("cpu").type == "cpu"
    with pytest.raises(ParameterError, match="DEVICE='cuda' is not allowed: no CUDA device"):
        choose_device("cuda")
    with pytest.raises(ParameterError, match="DEVICE='tpu' is not allowed.*'auto', 'cpu', 'cuda', 'mps'"):
        choose_device("tpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert choose_device("auto").type == "mps"


# --- the training recipe: one-cycle schedule, log sigma's own rate, precision -----------------

FAST = dict(schedule="one-cycle", sigma_lr_factor=10.0, lr=3e-3)


def test_one_cycle_rate_rises_to_the_peak_then_anneals_and_is_stepped_once_per_batch(small, tmp_path):
    model = tiny_model()
    opt = make_optimizer(model, 3e-3, sigma_lr_factor=10.0)
    sched = make_scheduler(opt, "one-cycle", total_steps=100)
    rates = []
    for _ in range(100):
        rates.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    weights, sigma = [r[0] for r in rates], [r[1] for r in rates]
    assert weights[0] == pytest.approx(3e-3 / 25) and max(weights) == pytest.approx(3e-3, rel=1e-3)
    assert weights.index(max(weights)) == 29 and weights[-1] < 3e-3 / 1000
    assert all(a <= b for a, b in zip(weights[:29], weights[1:30]))      # warm-up: 30 % of the steps
    assert all(a >= b for a, b in zip(weights[29:-1], weights[30:]))     # then down, never up again
    assert [s / w for s, w in zip(sigma, weights)] == pytest.approx([10.0] * 100)
    # through train_vae: 3 epochs of 256 images in batches of 64 -> 12 scheduler steps, saved for resume
    _run(small, epochs=3, checkpoint=tmp_path / "f.pt", **FAST)
    state = read_checkpoint(tmp_path / "f.pt")["training_state"]
    assert state["scheduler"]["last_epoch"] == 12 and state["scheduler"]["total_steps"] == 12


def test_log_sigma_gets_its_own_rate_only_when_asked_and_only_a_gaussian_decoder_has_one():
    gauss, bern = tiny_model(), tiny_model()
    bern.likelihood = "bernoulli"
    del bern.log_sigma
    assert len(make_optimizer(gauss, 1e-3).param_groups) == 1                   # the plain recipe: as before
    groups = make_optimizer(gauss, 1e-3, sigma_lr_factor=10.0).param_groups
    assert [len(g["params"]) for g in groups] == [len(list(gauss.parameters())) - 1, 1]
    assert groups[1]["params"][0] is gauss.log_sigma and groups[1]["lr"] == pytest.approx(1e-2)
    assert len(make_optimizer(bern, 1e-3, sigma_lr_factor=10.0).param_groups) == 1


def test_the_fast_recipe_is_recorded_in_the_checkpoint_and_repeatable(small, tmp_path):
    _, a = _run(small, epochs=2, checkpoint=tmp_path / "a.pt", **FAST)
    _, b = _run(small, epochs=2, **FAST)
    _, plain = _run(small, epochs=2)
    saved = load_checkpoint(tmp_path / "a.pt")
    assert (saved.config["schedule"], saved.config["sigma_lr_factor"], saved.config["precision"]) == \
        ("one-cycle", 10.0, "fp32")
    assert [a[k] for k in LOSS_KEYS] == [b[k] for k in LOSS_KEYS]      # same parameters, same numbers
    assert a["train_loss"] != plain["train_loss"]


def test_interrupted_one_cycle_run_resumes_where_it_stopped(small, tmp_path, monkeypatch):
    straight, hist = _run(small, epochs=3, checkpoint=tmp_path / "a.pt", **FAST)
    import helpers.vae as lesson  # fit (notebook 02's loop) calls the lesson's train_epoch

    calls = {"n": 0}
    real = lesson.train_epoch

    def stop_in_epoch_2(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the learner interrupts the kernel during epoch 2
        return real(*args, **kw)

    monkeypatch.setattr(lesson, "train_epoch", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        _run(small, epochs=3, checkpoint=tmp_path / "b.pt", **FAST)
    monkeypatch.setattr(lesson, "train_epoch", real)
    assert read_checkpoint(tmp_path / "b.pt")["training_state"]["epoch"] == 1
    resumed, hist_b = _run(small, epochs=3, checkpoint=tmp_path / "b.pt", resume=True, **FAST)
    assert [hist[k] for k in LOSS_KEYS] == [hist_b[k] for k in LOSS_KEYS]
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name


def test_precision_auto_picks_bfloat16_only_where_it_is_native(monkeypatch):
    import helpers.train as train_module

    cpu = torch.device("cpu")
    monkeypatch.setattr(train_module, "_cpu_flags", lambda: "flags : fpu sse2 avx2 fma avx512f")
    assert choose_precision("auto", cpu)[0] == "fp32" and "no native bfloat16" in choose_precision("auto", cpu)[1]
    for flag in ("avx512_bf16", "amx_bf16"):
        monkeypatch.setattr(train_module, "_cpu_flags", lambda: f"flags : fpu avx2 {flag} avx512f")
        picked, why = choose_precision("auto", cpu)
        assert picked == "bf16" and "native bfloat16" in why
    assert choose_precision("fp32", cpu) == ("fp32", "PRECISION='fp32' was asked for")
    # a GPU counts only with native bfloat16 (an older GPU reports it emulated: True only with emulation)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert choose_precision("auto", torch.device("cuda"))[0] == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert choose_precision("auto", torch.device("cuda"))[0] == "fp32"
    assert choose_precision("auto", torch.device("mps"))[0] == "fp32"
    with pytest.raises(ParameterError, match="PRECISION='fp16' is not allowed.*'auto', 'fp32', 'bf16'"):
        choose_precision("fp16", cpu)


def test_bad_recipe_parameters_name_the_value(small):
    model = tiny_model()
    for kw, msg in [({"schedule": "cosine"}, "LR_SCHEDULE='cosine' is not allowed.*'one-cycle', 'constant'"),
                    ({"sigma_lr_factor": 0}, "SIGMA_LR_FACTOR=0 is not allowed"),
                    ({"precision": "half"}, "PRECISION='half' is not allowed")]:
        with pytest.raises(ParameterError, match=msg):
            train_vae(model, *small, progress=False, device="cpu", **kw)


def test_planned_rates_are_the_rates_train_vae_uses():
    model = tiny_model()
    opt = make_optimizer(model, 2e-3)
    sched = make_scheduler(opt, "one-cycle", 37)
    used = []
    for _ in range(37):
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert planned_rates("one-cycle", 2e-3, 37) == used
    assert planned_rates("constant", 2e-3, 5) == [2e-3] * 5


def test_resume_refuses_a_checkpoint_trained_with_other_settings_and_keeps_it(small, tmp_path):
    path = tmp_path / "r.pt"
    _run(small, epochs=2, checkpoint=path, **FAST)
    saved = path.read_bytes()
    for kw, msg in [({"epochs": 3}, r"epochs=2 there, epochs=3 now"),
                    ({"schedule": "constant"}, r"schedule='one-cycle' there, schedule='constant' now"),
                    ({"lr": 1e-3}, r"lr=0.003 there, lr=0.001 now")]:
        with pytest.raises(ParameterError, match=r"RESUME=True is not allowed here: .*r\.pt was trained with "
                                                 r"other settings \(.*" + msg + r".*RESUME = False"):
            _run(small, checkpoint=path, resume=True, **{"epochs": 2, **FAST, **kw})
    assert path.read_bytes() == saved
    # a checkpoint of the plain recipe (no recipe recorded in older files) resumes with the plain recipe
    _run(small, epochs=1, checkpoint=tmp_path / "p.pt")
    with pytest.raises(ParameterError, match="schedule='constant' there, schedule='one-cycle' now"):
        _run(small, epochs=1, checkpoint=tmp_path / "p.pt", resume=True, **FAST)


def test_each_step_of_the_lessons_epoch_uses_its_own_batchs_gradient_only(small):
    """train_epoch (notebook 02's step, given code since it stopped being a task): one epoch of SGD
    equals a step on each batch's own gradient in turn (old gradients cleared), and every weight moves."""
    from helpers.vae import ConvVAE, train_epoch

    def plain_loss(model, x, beta=1.0):  # deterministic: the decoded posterior mean, no sampling
        mu, logvar = model.encode(x)
        recon = (model.decode(mu) - x).pow(2).flatten(1).sum(1).mean()
        kl = mu.pow(2).sum(1).mean()
        return {"loss": recon + beta * kl, "recon": recon, "kl": kl}

    xs = small[0][:96]
    batches = torch.randperm(96, generator=torch.Generator().manual_seed(2)).split(32)
    torch.manual_seed(1)
    net_a = ConvVAE(latent_dim=2, hidden=16)
    net_b = ConvVAE(latent_dim=2, hidden=16)
    net_b.load_state_dict(net_a.state_dict())
    start = [p.detach().clone() for p in net_a.parameters()]
    sgd = torch.optim.SGD(net_a.parameters(), lr=0.01)
    constant = torch.optim.lr_scheduler.LambdaLR(sgd, lambda step: 1.0)
    terms = train_epoch(net_a, sgd, constant, xs, batches, loss=plain_loss)
    assert set(terms) == {"loss", "recon", "kl"}
    for idx in batches:
        grads = torch.autograd.grad(plain_loss(net_b, xs[idx])["loss"], list(net_b.parameters()), allow_unused=True)
        with torch.no_grad():
            for weight, grad in zip(net_b.parameters(), grads):
                if grad is not None:  # log sigma is not in this loss
                    weight -= 0.01 * grad
    apart = max((wa - wb).detach().abs().max().item() for wa, wb in zip(net_a.parameters(), net_b.parameters()))
    assert apart < 1e-5, apart
    moved = [not torch.equal(s, p.detach()) for (name, p), s in zip(net_a.named_parameters(), start) if name != "log_sigma"]
    assert all(moved), moved
