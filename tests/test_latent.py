import math

import numpy as np
import pytest
import torch

from conftest import tiny_model
from helpers.latent import (EncodedSet, class_means, encode_dataset, fit_pca, kl_per_dim, lerp, manifold_grid,
                            slerp, traversal_codes, tsne_2d)
from helpers.sampler import fit_latent_mixture


def test_lerp_is_the_straight_line():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = lerp(z0, z1, 5)
    assert path.shape == (5, 2)
    assert torch.allclose(path[2], torch.tensor([2.0, 0.0]))
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_slerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(16, generator=g), 2.5 * torch.randn(16, generator=g)
    path = slerp(z0, z1, 9)
    assert path.shape == (9, 16)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    # norms move linearly from |z0| to |z1|
    t = torch.linspace(0, 1, 9)
    assert torch.allclose(path.norm(dim=1), (1 - t) * z0.norm() + t * z1.norm(), atol=1e-4)
    # every point lies in the plane of z0 and z1, and the angle grows evenly
    cos = (path / path.norm(dim=1, keepdim=True)) @ (z0 / z0.norm())
    angles = torch.arccos(cos.clamp(-1, 1))
    assert torch.allclose(angles.diff(), angles.diff()[0].expand(8), atol=1e-4)


def test_slerp_keeps_norm_where_lerp_shrinks_it():
    z0, z1 = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    assert slerp(z0, z1, 3)[1].norm().item() == pytest.approx(3.0)
    assert lerp(z0, z1, 3)[1].norm().item() == pytest.approx(3 / math.sqrt(2))


def test_slerp_of_parallel_codes_falls_back_to_lerp():
    z0 = torch.tensor([1.0, 1.0])
    assert torch.allclose(slerp(z0, 3 * z0, 3), lerp(z0, 3 * z0, 3))


def test_pca_finds_the_known_directions():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5000, 3, generator=g) * torch.tensor([5.0, 2.0, 0.5])
    rot, _ = torch.linalg.qr(torch.randn(3, 3, generator=g))
    z = base @ rot.T + torch.tensor([1.0, -2.0, 3.0])
    pca = fit_pca(z, k=3)
    expected = np.array([25.0, 4.0, 0.25]) / 29.25
    assert np.allclose(pca.explained, expected, atol=0.01)
    assert torch.allclose(pca.components.abs(), rot.T.abs(), atol=0.02)
    # with every component kept, the projection is a rotation: distances are unchanged
    coords = pca.project(z[:50])
    assert torch.allclose(torch.cdist(coords, coords), torch.cdist(z[:50], z[:50]), rtol=1e-3, atol=1e-2)
    two = fit_pca(z, k=2)
    assert two.project(z).shape == (5000, 2)


def test_encode_dataset_shapes_and_class_means():
    model = tiny_model(latent_dim=3)
    x = torch.rand(25, 1, 28, 28) * 2 - 1
    labels = torch.arange(25) % 10
    codes = encode_dataset(model, x, labels, batch_size=7)
    assert codes.mu.shape == (25, 3) and codes.logvar.shape == (25, 3)
    mu, _ = model.encode(x)
    assert torch.allclose(codes.mu, mu.detach(), atol=1e-6)
    means = class_means(codes)
    assert means.shape == (10, 3)
    assert torch.allclose(means[4], codes.mu[[4, 14, 24]].mean(0))


def test_encode_dataset_gives_a_conditional_model_the_labels():
    model = tiny_model(latent_dim=3, conditional=True)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    codes = encode_dataset(model, x, labels)
    assert torch.allclose(codes.mu, model.encode(x, labels)[0].detach(), atol=1e-6)


def test_tsne_shape_and_seed():
    z = torch.randn(120, 5, generator=torch.Generator().manual_seed(1))
    a, b = tsne_2d(z, seed=0), tsne_2d(z, seed=0)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    assert np.allclose(a, b)


def test_kl_per_dim_sums_to_the_kl_per_image():
    from helpers.vae import kl_divergence

    mu = torch.tensor([[0.0, 1.0, 2.0], [0.0, -1.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, math.log(4.0)]])
    kl = kl_per_dim(EncodedSet(mu, logvar, torch.zeros(2).long()))
    # dim 0 is the prior itself; dim 1: mu^2 / 2 = 0.5; dim 2: (4 + 0) / 2 / 2 + (4 - 1 - log 4) / 2 / 2
    assert torch.allclose(kl, torch.tensor([0.0, 0.5, 1.0 + (3 - math.log(4.0)) / 4]))
    assert torch.allclose(kl.sum(), kl_divergence(mu, logvar).mean())


def test_traversal_codes_move_one_dimension_per_row():
    z0 = torch.tensor([0.5, -1.0, 2.0, 0.0])
    grid = traversal_codes(z0, [2, 0], torch.tensor([-1.0, 0.0, 3.0]))
    assert grid.shape == (6, 4)
    expect = z0.repeat(6, 1)
    expect[0:3, 2] += torch.tensor([-1.0, 0.0, 3.0])
    expect[3:6, 0] += torch.tensor([-1.0, 0.0, 3.0])
    assert torch.equal(grid, expect)
    # one set of offsets per row (e.g. in units of each dimension's own spread)
    per_row = traversal_codes(z0, [1, 3], torch.tensor([[-2.0, 2.0], [-0.5, 0.5]]))
    assert per_row[:, 1].tolist() == [-3.0, 1.0, -1.0, -1.0]
    assert per_row[:, 3].tolist() == [0.0, 0.0, -0.5, 0.5]
    assert torch.equal(z0, torch.tensor([0.5, -1.0, 2.0, 0.0]))  # the start code is not modified
    with pytest.raises(ValueError, match="offsets has 1 rows for 2 dims"):
        traversal_codes(z0, [1, 3], torch.zeros(1, 2))


def test_manifold_grid_spans_the_codes_central_range():
    mu = torch.stack([torch.linspace(-4, 6, 1001), torch.linspace(10, 0, 1001)], dim=1)  # z1 -4..6, z2 0..10
    grid, z1, z2 = manifold_grid(mu, n=5, coverage=0.8)  # the 10th to 90th percentiles
    assert grid.shape == (25, 2)
    assert torch.allclose(z1, torch.tensor([-3.0, -1.0, 1.0, 3.0, 5.0]), atol=1e-5)  # rises along a row
    assert torch.allclose(z2, torch.tensor([9.0, 7.0, 5.0, 3.0, 1.0]), atol=1e-5)   # falls down the rows
    assert torch.equal(grid[:5, 0], z1) and torch.equal(grid[::5, 1], z2)
    assert torch.equal(grid[6], torch.stack([z1[1], z2[1]]))


def _clusters(conditional: bool):
    """Codes in two well-separated 2-D blobs; for a conditional fit, classes 0-4 sit in the first
    blob and 5-9 in the second."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(600, 2, generator=g) * 0.1 + torch.tensor([3.0, 0.0])
    b = torch.randn(400, 2, generator=g) * 0.1 + torch.tensor([-3.0, 1.0])
    mu = torch.cat([a, b])
    labels = torch.cat([torch.arange(600) % 5, 5 + torch.arange(400) % 5])
    if not conditional:  # spread over all ten classes: the unconditional fit must ignore labels
        labels = torch.arange(1000) % 10
    return EncodedSet(mu, torch.full((1000, 2), math.log(0.01)), labels)


def test_fitted_mixture_recovers_two_blobs_and_adds_the_posterior_variance():
    mix = fit_latent_mixture(_clusters(False), conditional=False, components=2)
    assert (mix.groups, mix.components, mix.latent_dim) == (1, 2, 2)
    order = mix.means[0, :, 0].argsort(descending=True)
    assert torch.allclose(mix.means[0, order], torch.tensor([[3.0, 0.0], [-3.0, 1.0]]), atol=0.03)
    assert torch.allclose(mix.weights[0, order], torch.tensor([0.6, 0.4], dtype=torch.float64), atol=1e-6)
    cov = mix.scale_tril[0] @ mix.scale_tril[0].transpose(1, 2)
    # blob variance 0.01 + mean posterior variance 0.01 on the diagonal
    assert torch.allclose(cov.diagonal(dim1=1, dim2=2), torch.full((2, 2), 0.02), atol=0.004)
    z = mix.draw(5000, generator=torch.Generator().manual_seed(1))
    assert z.shape == (5000, 2)
    assert (z[:, 0] > 0).float().mean().item() == pytest.approx(0.6, abs=0.02)
    assert torch.equal(z, mix.draw(5000, generator=torch.Generator().manual_seed(1)))


def test_conditional_mixture_draws_stay_in_the_asked_class():
    mix = fit_latent_mixture(_clusters(True), conditional=True, components=1)
    assert (mix.groups, mix.components) == (10, 1)
    z = mix.draw(200, torch.tensor([0] * 100 + [7] * 100), torch.Generator().manual_seed(0))
    assert (z[:100, 0] > 2).all() and (z[100:, 0] < -2).all()
    assert torch.allclose(mix.means[7, 0], torch.tensor([-3.0, 1.0]), atol=0.03)
    # classes without codes cannot be fitted
    with pytest.raises(ValueError, match="0 codes cannot fit 1 mixture components"):
        fit_latent_mixture(EncodedSet(torch.zeros(5, 2), torch.zeros(5, 2), torch.zeros(5).long()), True, 1)
    with pytest.raises(ValueError, match="components=0 is not allowed"):
        fit_latent_mixture(_clusters(True), conditional=True, components=0)
