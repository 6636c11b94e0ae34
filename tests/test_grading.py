"""helpers.grading: the visible checks of notebook 02's tasks, and the references its test of vae_loss (Task 4) runs the student's function with."""
import math

import pytest
import torch

from helpers import grading


def test_references_match_the_closed_forms():
    mu, logvar = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [math.log(4.0), 0.0]])
    assert torch.allclose(grading.reference_kl(mu, logvar), torch.tensor([2.5, 0.5 * (4 - 1 - math.log(4))]))
    x, x_hat = torch.zeros(2, 1, 28, 28), torch.full((2, 1, 28, 28), 0.5)
    nll = grading.reference_gaussian_nll(x_hat, x, torch.tensor(math.log(0.5)))
    assert torch.allclose(nll, torch.full((2,), 784 * (math.log(0.5) + 0.5 * math.log(2 * math.pi) + 0.5)))


def _students_namespace(kl=grading.reference_kl, nll=grading.reference_gaussian_nll,
                        recon="gaussian_nll(x_hat, x, model.log_sigma).mean()", kl_term="kl_divergence(mu, logvar).mean()",
                        loss="recon + beta * kl"):
    """A notebook's namespace with these kl_divergence and gaussian_nll and a student's vae_loss whose
    terms are the given expressions (the lesson's by default)."""
    namespace = {"kl_divergence": kl, "gaussian_nll": nll, "torch": torch}
    exec("def vae_loss(model, x, beta=1.0):\n"
         "    x_hat, mu, logvar = model(x)\n"
         f"    recon = {recon}\n"
         f"    kl = {kl_term}\n"
         f"    return {{'loss': {loss}, 'recon': recon, 'kl': kl}}\n", namespace)
    return namespace


def test_a_wrong_kl_costs_nothing_in_the_loss_test_and_the_students_functions_come_back():
    wrong_kl = lambda mu, logvar: torch.full((len(mu),), 1e6)  # noqa: E731
    wrong_nll = lambda x_hat, x, log_sigma: torch.zeros(len(x))  # noqa: E731
    namespace = _students_namespace(wrong_kl, wrong_nll)
    fixed, x, _ = grading.stand_in_batch()
    terms = grading.with_reference_terms(namespace["vae_loss"], fixed, x, beta=2.0)
    assert torch.isclose(terms["kl"], torch.tensor(5.25))  # (0 + 1.5 + 6 + 13.5) / 4, the reference's
    assert namespace["kl_divergence"] is wrong_kl and namespace["gaussian_nll"] is wrong_nll
    terms["loss"].backward()
    assert fixed.log_sigma.grad is not None and fixed.log_sigma.grad != 0


def test_the_students_functions_come_back_when_the_loss_raises_and_missing_names_are_not_left_behind():
    namespace = {}
    exec("def broken(model, x, beta=1.0):\n    raise NotImplementedError()\n", namespace)
    with pytest.raises(NotImplementedError):
        grading.with_reference_terms(namespace["broken"], None, None)
    assert "kl_divergence" not in namespace and "gaussian_nll" not in namespace


def test_vae_loss_checks_passes_the_lesson_loss_and_names_the_reduction_mistakes():
    from helpers.vae import vae_loss

    terms = grading.vae_loss_checks(vae_loss, beta=2.0)
    assert torch.isclose(terms["kl"], torch.tensor(5.25)) and terms["loss"].requires_grad
    summed = _students_namespace(recon="gaussian_nll(x_hat, x, model.log_sigma).sum()",
                                 kl_term="kl_divergence(mu, logvar).sum()")
    with pytest.raises(AssertionError, match="is 5.25, got 21"):
        grading.vae_loss_checks(summed["vae_loss"])
    per_pixel = _students_namespace(recon="gaussian_nll(x_hat, x, model.log_sigma).mean() / 784")
    model, x, per_image = grading.stand_in_batch()
    with pytest.raises(AssertionError, match=f"recon in nats per image .* is {per_image.mean().item():.2f}, got"):
        grading.vae_loss_checks(per_pixel["vae_loss"])
    unit_sigma = _students_namespace(recon="gaussian_nll(x_hat, x, torch.tensor(0.0)).mean()")  # sigma = 1 (a reader's slip)
    with pytest.raises(AssertionError, match="recon in nats per image .* model.log_sigma"):
        grading.vae_loss_checks(unit_sigma["vae_loss"])


def test_vae_loss_checks_refuse_a_loss_without_its_gradient():
    detached = _students_namespace(loss="torch.tensor((recon + beta * kl).item())")
    with pytest.raises(AssertionError, match="must carry the gradient"):
        grading.vae_loss_checks(detached["vae_loss"])


def test_task_checks_pass_the_lesson_functions_and_leave_the_random_stream_alone():
    from helpers.vae import gaussian_nll, kl_divergence, reparameterize

    state = torch.get_rng_state()
    assert grading.reparameterize_checks(reparameterize).shape == (100_000, 2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.allclose(grading.kl_checks(kl_divergence), torch.tensor([0.0, 2.5, 0.5 * (3 - math.log(4))]))
    assert grading.gaussian_nll_checks(gaussian_nll)[1] - grading.gaussian_nll_checks(gaussian_nll)[0] == pytest.approx(392, abs=1e-2)
    as_float64 = lambda mu, logvar: kl_divergence(mu.double(), logvar.double())  # noqa: E731  a right answer in float64
    grading.kl_checks(as_float64)


@pytest.mark.parametrize("check, wrong, message", [
    (grading.reparameterize_checks, lambda mu, logvar: mu + logvar.exp() * torch.randn_like(mu), "spread of z must be sigma"),
    (grading.reparameterize_checks, lambda mu, logvar: mu + torch.randn_like(mu), "spread of z must be sigma"),
    (grading.reparameterize_checks, lambda mu, logvar: torch.randn_like(mu), r"mean of z must be mu = \(0.5, -1\)"),
    (grading.reparameterize_checks,                                 # one noise vector for the whole batch
     lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.randn(mu.shape[1]), "every row of z came out the same"),
    (grading.reparameterize_checks,  # one eps per image, shared by its latent dimensions
     lambda mu, logvar: mu + (0.5 * logvar).exp() * torch.randn(mu.shape[0], 1), "columns of z move together"),
    (grading.reparameterize_checks,  # a sampler: the right numbers, but no gradient reaches mu or logvar
     lambda mu, logvar: torch.normal(mu, (0.5 * logvar).exp()), "dz/dmu must be 1"),
    (grading.kl_checks, lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar), r"shape \(N,\) = \(3,\), not \(3, 2\)"),
    (grading.kl_checks, lambda mu, logvar: 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean(1), "2.5"),
    (grading.kl_checks, lambda mu, logvar: float((mu ** 2 + logvar.exp() - 1 - logvar).sum()), "not float"),
    (grading.gaussian_nll_checks,                                   # sigma^2 = e^(log sigma): log sigma read as a log-variance
     lambda x_hat, x, ls: (0.5 * (x - x_hat) ** 2 / ls.exp() + 0.5 * ls + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1),
     "a perfect image costs"),
    (grading.gaussian_nll_checks,                                   # a mean over the pixels
     lambda x_hat, x, ls: (0.5 * (x - x_hat) ** 2 / (2 * ls).exp() + ls + 0.5 * math.log(2 * math.pi)).flatten(1).mean(1),
     "got"),
    (grading.gaussian_nll_checks,                                   # summed over the whole batch
     lambda x_hat, x, ls: (0.5 * (x - x_hat) ** 2 / (2 * ls).exp() + ls + 0.5 * math.log(2 * math.pi)).sum(),
     r"shape \(N,\) = \(2,\), not \(\)"),
])
def test_task_checks_name_what_a_wrong_answer_got(check, wrong, message):
    with pytest.raises(AssertionError, match=message):
        check(wrong)


def test_the_stand_in_model_says_what_to_use_in_place_of_encode():
    model, x, _ = grading.stand_in_batch()
    with pytest.raises(AttributeError, match="only model\\(x\\) and model.log_sigma"):
        model.encode(x)
    with pytest.raises(AttributeError, match="only model\\(x\\)"):
        model.decode(x)
