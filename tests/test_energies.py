"""Energies Φ(y, params): ∇_y and ∇_params against central finite differences (float64), the quadratic energy's
∇_A = ½yyᵀ convention (per row and shared), affinity in params, concavity in y (numerically, with a control that
the check detects a non-concave energy), float32 preservation, validation, inputs left untouched."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refefl import energies, nn
from refefl.testing import assert_close, directional_derivative

FD_SCALE = 1e4  # central differences agree with exact derivatives to ~1e-8 relative (refefl.testing)
CASES = ["bilinear", "quadratic", "quadratic_per_row", "low_rank", "low_rank_per_row", "mlp", "mlp_tanh", "icnn"]
SEEDS = st.integers(0, 2**32 - 1)


def symmetric(rng, k, n=None):
    b = rng.normal(size=(k, k) if n is None else (n, k, k))
    return (b + b.swapaxes(-1, -2)) / 2


def make_case(name, rng, n=4, k=3, d=2):
    """(energy, params, y) with y in [0, 1]^k."""
    theta = rng.normal(size=(n, k))
    y = rng.random((n, k))
    x = rng.normal(size=(n, d))
    if name == "bilinear":
        return energies.Bilinear(), theta, y
    if name.startswith("quadratic"):
        return energies.Quadratic(), (theta, symmetric(rng, k, n if "per_row" in name else None)), y
    if name.startswith("low_rank"):
        return energies.LowRankConcave(), (theta, rng.normal(size=(k, 2) if name == "low_rank" else (n, k, 2))), y
    if name.startswith("mlp"):
        energy = energies.MLPEnergy(d, k, hidden=(5, 4), activation="tanh" if name == "mlp_tanh" else "softplus")
        return energy, (x, energy.init(rng)), y
    energy = energies.InputConcaveEnergy(d, k, hidden=(4, 3))
    weights = nn.tree_map(lambda w: w + 0.3 * rng.normal(size=w.shape), energy.init(rng))
    return energy, (x, weights), y


def _along(params, direction, t):
    return nn.tree_map(lambda p, v: p + t * v, params, direction)


@pytest.mark.parametrize("name", CASES)
@given(seed=SEEDS)
def test_grad_y_matches_finite_differences(name, seed):
    rng = np.random.default_rng(seed)
    energy, params, y = make_case(name, rng)
    v = rng.normal(size=y.shape)
    fd = directional_derivative(lambda z: energy.value(params, z).sum(), y, v)
    grad = energy.grad_y(params, y)
    assert grad.shape == y.shape
    assert_close(np.vdot(grad, v), fd, scale=FD_SCALE * (1 + abs(fd)))


@pytest.mark.parametrize("name", CASES)
@given(seed=SEEDS)
def test_grad_params_matches_finite_differences(name, seed):
    rng = np.random.default_rng(seed)
    energy, params, y = make_case(name, rng)
    direction = nn.tree_map(lambda p: rng.normal(size=np.shape(p)), params)
    if name.startswith("quadratic"):  # A stays symmetric: differentiate along symmetric directions
        a = params[1]
        direction = (direction[0], symmetric(rng, a.shape[-1], a.shape[0] if a.ndim == 3 else None))
    fd = directional_derivative(lambda t: energy.value(_along(params, direction, float(t)), y).sum(), 0.0, 1.0)
    grad = energy.grad_params(params, y)
    nn.tree_map(lambda g, p: None if np.shape(g) == np.shape(p) else pytest.fail("gradient shape"), grad, params)
    assert_close(nn.tree_vdot(grad, direction), fd, scale=FD_SCALE * (1 + abs(fd)))


@given(seed=SEEDS)
def test_quadratic_grad_a_is_half_outer_product(seed):
    rng = np.random.default_rng(seed)
    n, k = 5, 4
    theta, y = rng.normal(size=(n, k)), rng.random((n, k))
    per_row = energies.Quadratic().grad_params((theta, symmetric(rng, k, n)), y)[1]
    shared = energies.Quadratic().grad_params((theta, symmetric(rng, k)), y)[1]
    assert_close(per_row, 0.5 * np.einsum("ni,nj->nij", y, y))
    assert_close(shared, per_row.sum(axis=0))
    assert_close(shared, shared.T)


@given(seed=SEEDS)
def test_low_rank_is_quadratic_with_negative_semidefinite_a(seed):
    rng = np.random.default_rng(seed)
    theta, v, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3, 2)), rng.random((4, 3))
    a = -v @ v.swapaxes(1, 2)
    low_rank, quadratic = energies.LowRankConcave(), energies.Quadratic()
    assert_close(low_rank.value((theta, v), y), quadratic.value((theta, a), y))
    assert_close(low_rank.grad_y((theta, v), y), quadratic.grad_y((theta, a), y))
    assert_close(low_rank.pairwise(low_rank.check_params((theta, v)))[1], a)


@pytest.mark.parametrize("name", ["bilinear", "quadratic", "quadratic_per_row"])
@given(seed=SEEDS)
def test_affine_in_params(name, seed):
    rng = np.random.default_rng(seed)
    energy, p1, y = make_case(name, rng)
    _, p2, _ = make_case(name, rng)
    assert energy.affine_in_params
    middle = nn.tree_map(lambda a, b: (a + b) / 2, p1, p2)
    assert_close(energy.value(middle, y), (energy.value(p1, y) + energy.value(p2, y)) / 2, scale=10)


def concavity_violation(energy, params, y1, y2):
    """max over rows of the midpoint and gradient-monotonicity violations (≤ 0 up to rounding iff concave)."""
    mid = energy.value(params, (y1 + y2) / 2) - (energy.value(params, y1) + energy.value(params, y2)) / 2
    mono = np.einsum("ij,ij->i", energy.grad_y(params, y1) - energy.grad_y(params, y2), y1 - y2)
    return max(float(-mid.min()), float(mono.max()))


@pytest.mark.parametrize("name", ["bilinear", "low_rank", "low_rank_per_row", "icnn"])
@given(seed=SEEDS, spread=st.sampled_from([1.0, 5.0]))
def test_concave_in_y(name, seed, spread):
    rng = np.random.default_rng(seed)
    energy, params, _ = make_case(name, rng, n=20)
    assert energy.concave_in_y
    y1, y2 = spread * rng.normal(size=(2, 20, 3))
    assert concavity_violation(energy, params, y1, y2) <= 1e-10


def test_concavity_check_detects_a_convex_direction():
    """Control for the test above: a Quadratic with A ≻ 0 and an MLP energy violate it."""
    rng = np.random.default_rng(0)
    y1, y2 = rng.normal(size=(2, 20, 3))
    assert concavity_violation(energies.Quadratic(), (np.zeros((20, 3)), np.eye(3)), y1, y2) > 0.1
    mlp, params, _ = make_case("mlp", rng, n=20)
    assert concavity_violation(mlp, params, 3 * y1, 3 * y2) > 1e-3


@pytest.mark.parametrize("name", CASES)
def test_float32_is_kept(name):
    energy, params, y = make_case(name, np.random.default_rng(3))
    params = nn.tree_map(lambda p: np.asarray(p, dtype=np.float32), params)
    y = y.astype(np.float32)
    assert energy.value(params, y).dtype == np.float32
    assert energy.grad_y(params, y).dtype == np.float32
    assert all(g.dtype == np.float32 for g in nn.tree_leaves(energy.grad_params(params, y)))


@pytest.mark.parametrize("name", CASES)
def test_inputs_are_not_modified(name):
    energy, params, y = make_case(name, np.random.default_rng(4))
    snapshot = [np.copy(leaf) for leaf in nn.tree_leaves((params, y))]
    for leaf in nn.tree_leaves((params, y)):
        leaf.setflags(write=False)
    energy.value(params, y), energy.grad_y(params, y), energy.grad_params(params, y)
    assert all(np.array_equal(a, b) for a, b in zip(snapshot, nn.tree_leaves((params, y))))


def test_bad_input_raises():
    theta, y = np.zeros((2, 3)), np.zeros((2, 3))
    quadratic = energies.Quadratic()
    with pytest.raises(ValueError, match="symmetric"):
        quadratic.value((theta, np.triu(np.ones((3, 3)))), y)
    with pytest.raises(ValueError, match=r"A must have shape \(3, 3\)"):
        quadratic.value((theta, np.eye(4)), y)
    with pytest.raises(TypeError, match="tuple"):
        quadratic.value(theta, y)
    with pytest.raises(ValueError, match="finite"):
        energies.Bilinear().value(np.array([[np.nan, 0, 0]]), y[:1])
    with pytest.raises(ValueError, match="theta must have shape"):
        energies.Bilinear().value(np.zeros(3), y)
    with pytest.raises(ValueError, match="y must have shape"):
        energies.Bilinear().value(theta, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="V must have shape"):
        energies.LowRankConcave().value((theta, np.zeros((2, 2))), y)
    icnn = energies.InputConcaveEnergy(2, 3)
    weights = icnn.init(np.random.default_rng(0))
    with pytest.raises(ValueError, match="x must have shape"):
        icnn.value((np.zeros((2, 5)), weights), y)
    weights["layers"][1].pop("Wz")
    with pytest.raises(ValueError, match="layout"):
        icnn.value((np.zeros((2, 2)), weights), y)
    with pytest.raises(ValueError, match="params"):
        energies.MLPEnergy(2, 3).value((np.zeros((2, 2)), []), y)
