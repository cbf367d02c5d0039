"""refefl.gda energies, teacher and metrics: formulas, gradients against finite differences, validation."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from refefl import gda
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)
# central differences of a function that is linear near the point (no kink within 1e-3): rounding only,
# eps_64 |E| / 1e-6 ≈ 1e-9 for |E| ≤ 10 (refefl.testing.directional_derivative)
FD_RTOL, FD_ATOL = 1e-7, 1e-8


def random_energy(rng, n=5, d=3, scale=10.0):
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return gda.ReLUEnergy(rng.normal(size=(n, d)), signs, scale * rng.random(n))


def tangent(rng, x):
    """A random unit vector orthogonal to x."""
    v = rng.normal(size=x.shape)
    v -= (v @ x) * x
    return v / np.linalg.norm(v)


def margin(energy, x):
    return np.min(np.abs(energy.preactivations(x)))


@given(SEEDS, st.integers(3, 6))
def test_value_matches_neuron_sum(seed, d):
    rng = np.random.default_rng(seed)
    energy = random_energy(rng, d=d)
    x = gda.uniform_sphere(rng, 7, d)
    expected = [sum(w * c * max(xj @ z, 0) for z, c, w in zip(energy.directions, energy.signs, energy.masses))
                / energy.n_neurons for xj in x]
    assert_close(energy.value(x), expected)


@given(SEEDS, st.integers(3, 6))
def test_grad_x_matches_finite_differences(seed, d):
    """Ambient gradient along any v; tangential gradient along the sphere's curves normalize(x + t v)."""
    rng = np.random.default_rng(seed)
    energy, x = random_energy(rng, d=d), gda.uniform_sphere(rng, 1, d)
    assume(margin(energy, x) > 1e-3)
    v = rng.normal(size=x.shape)
    fd = directional_derivative(lambda y: energy.value(y), x, v)
    np.testing.assert_allclose(energy.grad_x(x, tangential=False) @ v[0], fd, rtol=FD_RTOL, atol=FD_ATOL)
    u = tangent(rng, x[0])[None]
    fd_sphere = directional_derivative(lambda t: energy.value(gda.normalize_rows(x + t * u)), np.zeros(1), 1.0)
    np.testing.assert_allclose(energy.grad_x(x) @ u[0], fd_sphere, rtol=FD_RTOL, atol=FD_ATOL)
    assert_close(energy.grad_x(x) @ x[0], [0.0], scale=10)


@given(SEEDS)
def test_grad_params_matches_finite_differences_and_euler(seed):
    r"""∂F/∂w and ∇_z F along tangent directions; Euler's identity ⟨∇_{z_i} F, z_i⟩ = w_i ∂F/∂w_i."""
    rng = np.random.default_rng(seed)
    energy, x = random_energy(rng), gda.uniform_sphere(rng, 6, 3)
    assume(margin(energy, x) > 1e-3)
    q = rng.random(6)
    grad_z, grad_w = energy.grad_params(x, q)
    i = rng.integers(energy.n_neurons)
    e_i = np.eye(energy.n_neurons)[i]

    def objective_w(w):
        return q @ gda.ReLUEnergy(energy.directions, energy.signs, w).value(x)

    def objective_z(t):
        z = energy.directions.copy()
        z[i] = gda.normalize_rows((z[i] + t * v)[None])[0]
        return q @ gda.ReLUEnergy(z, energy.signs, energy.masses).value(x)

    v = tangent(rng, energy.directions[i])
    np.testing.assert_allclose(grad_w[i], directional_derivative(objective_w, energy.masses, e_i),
                               rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(grad_z[i] @ v, directional_derivative(objective_z, np.zeros(1), 1.0),
                               rtol=FD_RTOL, atol=FD_ATOL)
    assert_close(np.einsum("ij,ij->i", grad_z, energy.directions), energy.masses * grad_w)


@given(SEEDS)
def test_mle_gradients_match_finite_differences(seed):
    r"""∂P/∂w_i = c_i⟨D_i, z_i⟩/n and ∇_{z_i}P = w_i c_i D_i/n for the quadrature MLE objective P."""
    rng = np.random.default_rng(seed)
    energy, data = random_energy(rng, n=4), gda.uniform_sphere(rng, 30, 3)
    quadrature = gda.sphere_quadrature(12, 24)
    assume(margin(energy, np.concatenate([data, quadrature.points])) > 1e-4)
    witness = gda.mle_witness_gradient(energy, data, quadrature)
    i, n = int(rng.integers(4)), energy.n_neurons
    v = tangent(rng, energy.directions[i])

    def objective_w(w):
        return gda.primal_objective(gda.ReLUEnergy(energy.directions, energy.signs, w), data, quadrature)

    def objective_z(t):
        z = energy.directions.copy()
        z[i] = gda.normalize_rows((z[i] + t * v)[None])[0]
        return gda.primal_objective(gda.ReLUEnergy(z, energy.signs, energy.masses), data, quadrature)

    fd_w = directional_derivative(objective_w, energy.masses, np.eye(n)[i])
    fd_z = directional_derivative(objective_z, np.zeros(1), 1.0)
    np.testing.assert_allclose(energy.signs[i] * witness[i] @ energy.directions[i] / n, fd_w,
                               rtol=1e-6, atol=FD_ATOL)
    np.testing.assert_allclose(energy.masses[i] * energy.signs[i] * witness[i] @ v / n, fd_z,
                               rtol=1e-6, atol=FD_ATOL)


def test_float32_is_kept():
    rng = np.random.default_rng(0)
    energy = gda.ReLUEnergy(rng.normal(size=(3, 3)).astype(np.float32), [1, -1, 1],
                            np.ones(3, dtype=np.float32))
    x = gda.uniform_sphere(rng, 4, 3).astype(np.float32)
    assert energy.value(x).dtype == np.float32 and energy.grad_x(x).dtype == np.float32


def test_inputs_are_not_modified_and_views_accepted():
    rng = np.random.default_rng(1)
    z = np.asfortranarray(rng.normal(size=(4, 3)))
    z_copy = z.copy()
    energy = gda.ReLUEnergy(z, [1, 1, -1, -1], np.ones(4))
    x = gda.uniform_sphere(rng, 10, 6)[:, ::2]
    x.setflags(write=False)
    energy.value(x)
    np.testing.assert_array_equal(z, z_copy)
    assert_close(np.linalg.norm(energy.directions, axis=1), np.ones(4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(directions=np.zeros((2, 3))), "non-zero"),
    (dict(directions=np.ones(3)), "shape"),
    (dict(directions=[[np.nan, 1, 0], [1, 0, 0]]), "finite"),
    (dict(signs=[1, 0.5]), "signs"),
    (dict(masses=[1.0, -1.0]), "non-negative"),
    (dict(masses=[1.0, np.inf]), "finite"),
    (dict(masses=[1.0]), "shape"),
])
def test_bad_energies_raise(kwargs, match):
    args = dict(directions=np.eye(3)[:2], signs=[1, -1], masses=[1.0, 2.0]) | kwargs
    with pytest.raises(ValueError, match=match):
        gda.ReLUEnergy(**args)


def test_bad_points_raise():
    energy = gda.paper_teacher()
    with pytest.raises(ValueError, match="shape"):
        energy.value(np.ones((2, 4)))
    with pytest.raises(ValueError, match="finite"):
        energy.value([[np.inf, 0, 0]])
    with pytest.raises(TypeError, match="dtype"):
        energy.value(np.ones((2, 3), dtype=complex))


def test_teacher_kl_to_uniform_is_the_papers_initial_kl():
    """KL(teacher‖τ) = 0.6325 (the paper's initial KL 0.62-0.64): it pins the teacher scale β/2 per neuron."""
    uniform = gda.ReLUEnergy(np.eye(3)[:1], [1.0], [0.0])
    kl = gda.kl_divergence(gda.paper_teacher(), uniform, gda.sphere_quadrature(400, 800))
    assert abs(kl - 0.6325) < 5e-4


def test_quadrature_integrates_polynomials_and_kl_converges():
    """Midpoint rule: ∫x_3² dτ = 1/3; KL on the paper's 100×100 grid within 1e-4 of a 400×800 grid."""
    coarse, fine = gda.sphere_quadrature(100, 100), gda.sphere_quadrature(400, 800)
    assert abs(coarse.weights @ coarse.points[:, 2] ** 2 - 1 / 3) < 1e-4
    student = gda.ReLUEnergy.random(64, 3, np.random.default_rng(3), mass=10.0, sign=-1.0)
    teacher = gda.paper_teacher()
    assert abs(gda.kl_divergence(teacher, student, coarse) - gda.kl_divergence(teacher, student, fine)) < 1e-4


def test_kl_monte_carlo_agrees_with_quadrature():
    """The MC estimator's error is O(sd(Δ)/√n): n = 2e5 exact teacher samples give ~1e-3 here."""
    rng = np.random.default_rng(4)
    teacher = gda.paper_teacher()
    student = gda.ReLUEnergy.random(16, 3, rng, mass=8.0, sign=-1.0)
    samples = gda.sample_gibbs(teacher, 200_000, rng)
    exact = gda.kl_divergence(teacher, student, gda.sphere_quadrature(200, 400))
    assert abs(gda.kl_divergence_mc(teacher, student, samples) - exact) < 5e-3 * max(exact, 1)
    assert gda.kl_divergence_mc(teacher, teacher, samples) == pytest.approx(0.0, abs=1e-12)


@given(SEEDS)
def test_kl_and_sm_vanish_at_the_teacher_and_are_positive_elsewhere(seed):
    rng = np.random.default_rng(seed)
    quadrature = gda.sphere_quadrature(20, 40)
    teacher, student = random_energy(rng), random_energy(rng)
    weights = gda.gibbs_weights(teacher, quadrature)
    assert gda.kl_divergence(teacher, teacher, quadrature) == pytest.approx(0.0, abs=1e-12)
    assert gda.kl_divergence(teacher, student, quadrature) >= -1e-12
    assert gda.score_matching_distance(teacher, teacher, quadrature.points, weights) == 0.0
    shifted = gda.ReLUEnergy(teacher.directions, teacher.signs, teacher.masses * 1.5)
    assert gda.score_matching_distance(teacher, shifted, quadrature.points, weights) > 0


def test_max_negative_energy_bounds_the_sup():
    rng = np.random.default_rng(5)
    grid = gda.sphere_quadrature(200, 400).points
    assert gda.max_negative_energy(gda.paper_teacher()) == pytest.approx(5.0)
    for _ in range(5):
        energy = random_energy(rng, n=6)
        assert gda.max_negative_energy(energy) >= np.max(-energy.value(grid)) - 1e-12
