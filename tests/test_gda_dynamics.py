"""refefl.gda step functions: Langevin equilibrium, mass and direction steps, the p_R = 1 ↔ score-matching link."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refefl import gda
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)


def projection_cdf(energy, z, n_s=4001, n_phi=720):
    r"""CDF of s = ⟨x, z⟩ under ν_E on S², by quadrature: x = s z + √(1-s²)(cos φ e1 + sin φ e2) and τ has
    density 1/(4π) in (s, φ) (Archimedes), so the marginal density is ∝ ∫ e^{-E} dφ (error ~1e-7 here)."""
    e1 = np.linalg.svd(z[None])[2][1]
    e2 = np.cross(z, e1)
    s, phi = np.linspace(-1, 1, n_s), np.arange(n_phi) * 2 * np.pi / n_phi
    ring = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    x = s[:, None, None] * z + np.sqrt(1 - s**2)[:, None, None] * ring[None]
    density = np.exp(-energy.value(x.reshape(-1, 3))).reshape(n_s, n_phi).mean(axis=1)
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(s))])
    return s, cdf / cdf[-1]


def ks_statistic(samples, grid, cdf):
    values = np.sort(samples)
    model = np.interp(values, grid, cdf)
    n = values.size
    return max(np.max(np.arange(1, n + 1) / n - model), np.max(model - np.arange(n) / n))


def test_langevin_with_frozen_teacher_neurons_equilibrates_to_the_teacher():
    r"""Walkers started uniformly, 2000 steps of h = 0.005 (time 10, several escape times of the caps):
    the marginal of ⟨x, z_1⟩ passes a Kolmogorov-Smirnov test against quadrature.

    Threshold: the KS critical value at level 1e-3 for M = 4000 independent walkers, 1.95/√M = 0.031, plus
    h = 0.005 for the O(h) bias of unadjusted Langevin (measured ≈ 0.65 h in KS distance with 20000 walkers).
    A negative control with the energy at half scale (the wrong temperature) must fail the same test.
    """
    teacher = gda.paper_teacher()
    grid, cdf = projection_cdf(teacher, teacher.directions[0])
    threshold = 1.95 / np.sqrt(4000) + 0.005
    exact = gda.sample_gibbs(teacher, 4000, np.random.default_rng(0)) @ teacher.directions[0]
    assert ks_statistic(exact, grid, cdf) < threshold
    walkers = gda.langevin(teacher, 4000, step=0.005, n_steps=2000, rng=np.random.default_rng(1))
    assert_close(np.linalg.norm(walkers, axis=1), np.ones(4000))
    assert ks_statistic(walkers @ teacher.directions[0], grid, cdf) < threshold
    warm = gda.ReLUEnergy(teacher.directions, teacher.signs, teacher.masses / 2)
    control = gda.langevin(warm, 4000, step=0.005, n_steps=2000, rng=np.random.default_rng(1))
    assert ks_statistic(control @ teacher.directions[0], grid, cdf) > 2 * threshold


def test_particle_step_without_noise_is_riemannian_gradient_descent():
    rng = np.random.default_rng(2)
    energy = gda.ReLUEnergy.random(6, 3, rng, mass=5.0)
    y = gda.uniform_sphere(rng, 50, 3)
    moved = gda.particle_step(y, energy, 1e-3, np.zeros_like(y))
    assert_close(np.linalg.norm(moved, axis=1), np.ones(50))
    # first order: y - h ∇_S E(y); the normalization changes only O(h²)
    np.testing.assert_allclose(moved, y - 1e-3 * energy.grad_x(y), atol=1e-5)
    assert_close(gda.particle_step(y, energy, 0.0, rng.normal(size=y.shape)), y)


def test_antithetic_noise_and_restart():
    noise = gda.antithetic_noise(np.random.default_rng(3), 5, 4)
    assert noise.shape == (10, 4)
    assert_close(noise[:5], -noise[5:])
    data = gda.uniform_sphere(np.random.default_rng(3), 5, 3)
    assert_close(gda.restart_walkers(data), np.concatenate([data, data]))


@given(SEEDS, st.floats(0.0, 5.0), st.floats(0.5, 20.0))
def test_mass_step_is_the_kl_projected_multiplicative_update(seed, step, beta):
    rng = np.random.default_rng(seed)
    w, c, a = 5 * rng.random(8), np.where(rng.random(8) < 0.5, -1.0, 1.0), rng.normal(size=8)
    new = gda.mass_step(w, c, a, step, beta)
    raw = w * np.exp(-step * c * a)
    assert np.mean(new) <= beta * (1 + 1e-12)
    expected = raw if raw.mean() <= beta else raw * beta / raw.mean()
    assert_close(new, expected, scale=10)


def test_mass_step_edge_cases():
    c = np.array([1.0, -1.0, -1.0])
    # a huge step saturates the constraint on the winning neuron instead of overflowing
    assert_close(gda.mass_step([1.0, 1.0, 0.0], c, [1.0, 1e3, 5.0], 1e3, 10.0), [0.0, 30.0, 0.0])
    assert_close(gda.mass_step(np.zeros(3), c, np.ones(3), 1.0, 10.0), np.zeros(3))
    with pytest.raises(ValueError, match="beta"):
        gda.mass_step(np.ones(3), c, np.ones(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        gda.mass_step([-1.0, 1.0, 1.0], c, np.ones(3), 1.0, 1.0)


@given(SEEDS)
def test_direction_step_moves_along_the_projected_witness(seed):
    rng = np.random.default_rng(seed)
    z, c, witness = gda.uniform_sphere(rng, 5, 3), np.where(rng.random(5) < 0.5, -1.0, 1.0), rng.normal(size=(5, 3))
    new = gda.direction_step(z, c, witness, 1e-4)
    assert_close(np.linalg.norm(new, axis=1), np.ones(5))
    # first order: z - h c (I - z zᵀ) D, second-order remainder ≤ h² |D|²
    np.testing.assert_allclose(new, z - 1e-4 * gda.tangent_project(c[:, None] * witness, z), atol=1e-7)
    assert_close(gda.direction_step(z, c, witness, 0.0), z)


def test_witness_gradient_gives_the_mass_gradient_by_euler():
    r"""⟨D_i, z_i⟩ = G(z_i) = mean_j (⟨x_j, z_i⟩)₊ − mean_k (⟨y_k, z_i⟩)₊ (the ReLU is 1-homogeneous)."""
    rng = np.random.default_rng(4)
    energy = gda.ReLUEnergy.random(7, 3, rng)
    x, y = gda.uniform_sphere(rng, 40, 3), gda.uniform_sphere(rng, 60, 3)
    witness = gda.witness_gradient(energy, x, y)
    expected = np.maximum(energy.preactivations(x), 0).mean(0) - np.maximum(energy.preactivations(y), 0).mean(0)
    assert_close(np.einsum("ij,ij->i", witness, energy.directions), expected)


def hinge_free_data(energy, rng, n, gap=0.05):
    x = gda.uniform_sphere(rng, 20 * n, 3)
    return x[np.min(np.abs(energy.preactivations(x)), axis=1) > gap][:n]


def test_analytic_score_matching_gradient_matches_hyvarinen_loss():
    r"""As h → 0 away from hinges, D/h is the gradient of Hyvärinen's loss J:
    ∂J/∂w_i = c_i⟨D_i, z_i⟩/(n h) and ∇_{z_i} J = w_i c_i D_i/(n h) (finite differences; J smooth there)."""
    rng = np.random.default_rng(5)
    energy = gda.ReLUEnergy.random(6, 3, rng, mass=8.0)
    data, h, n = hinge_free_data(energy, rng, 200), 1e-7, energy.n_neurons
    witness = gda.score_matching_witness_gradient(energy, data, h) / h
    for i in range(n):
        v = np.cross(energy.directions[i], rng.normal(size=3))
        v /= np.linalg.norm(v)

        def loss_w(w):
            return gda.score_matching_loss(gda.ReLUEnergy(energy.directions, energy.signs, w), data)

        def loss_z(t):
            z = energy.directions.copy()
            z[i] = gda.normalize_rows((z[i] + t * v)[None])[0]
            return gda.score_matching_loss(gda.ReLUEnergy(z, energy.signs, energy.masses), data)

        fd_w = directional_derivative(loss_w, energy.masses, np.eye(n)[i])
        fd_z = directional_derivative(loss_z, np.zeros(1), 1.0)
        # h = 1e-7 leaves an O(h) bias and eps/h ≈ 1e-9 cancellation: 1e-6 relative
        np.testing.assert_allclose(energy.signs[i] * witness[i] @ energy.directions[i] / n, fd_w, rtol=1e-6,
                                   atol=1e-7)
        np.testing.assert_allclose(energy.masses[i] * energy.signs[i] * witness[i] @ v / n, fd_z, rtol=1e-6,
                                   atol=1e-7)


def test_restart_every_step_update_over_h_matches_analytic_score_matching_gradient():
    r"""p_R = 1: walkers one Langevin step from the data (antithetic pairs); D/h averaged over R = 4000
    independent steps matches :func:`score_matching_witness_gradient` / h, hinge terms included.

    Seeded statistical test: every component's z-score is below 4.5 (32 components: family-wise false alarm
    ≈ 2e-4). h = 5e-4 keeps the O(h) linearization bias (≈ 5 h relative, measured) below 0.3 standard errors.
    Power: the hinge-free (Hyvärinen) gradient is rejected by the same test.
    """
    rng = np.random.default_rng(6)
    teacher = gda.paper_teacher()
    data = gda.sample_gibbs(teacher, 200, rng)
    energy = gda.ReLUEnergy.random(8, 3, rng, mass=40.0)
    h, repeats = 5e-4, 4000
    start = gda.restart_walkers(data)
    samples = np.array([gda.witness_gradient(energy, data,
                                             gda.particle_step(start, energy, h, gda.antithetic_noise(rng, 200, 3)))
                        for _ in range(repeats)]) / h
    samples = np.concatenate([samples, np.einsum("rij,ij->ri", samples, energy.directions)[..., None]], axis=2)
    mean, se = samples.mean(0), samples.std(0) / np.sqrt(repeats)

    def with_mass(d):
        return np.concatenate([d, np.einsum("ij,ij->i", d, energy.directions)[:, None]], axis=1)

    analytic = with_mass(gda.score_matching_witness_gradient(energy, data, h) / h)
    assert np.max(np.abs(mean - analytic) / se) < 4.5
    assert np.max(se) < 0.05 * np.max(np.abs(analytic))
    hinge_free = with_mass(gda.score_matching_witness_gradient(energy, data, 1e-9) / 1e-9)
    assert np.max(np.abs(mean - hinge_free) / se) > 10
