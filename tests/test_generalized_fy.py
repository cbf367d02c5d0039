"""Generalized Fenchel-Young losses (docs/fenchel_young.md §2), for each energy × regularizer: L ≥ 0 and L = F(ŷ) − F(y);
L = 0 at the maximizer; Danskin's gradient against finite differences; convexity in params when Φ is affine in
them; the strong-convexity lower bound for concave energies; approximate maximizers lower-bound the loss; the
bilinear energy gives the classic FY loss for every registered regularizer; the paper's reference values;
∇_A = ½(ŷŷᵀ − yyᵀ) for the quadratic energy; the target safeguard; dtypes and validation."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

import refefl
from refefl import energies, maximizers, nn
from refefl.projections._root_finding import ConvergenceWarning
from refefl.regularizers import REGULARIZERS, regularizer
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)
TIGHT = 1e-11  # inner stationarity, so that Danskin's gradient is exact to ~1e-10
FD_SCALE = 1e4  # central differences agree with exact derivatives to ~1e-8 relative
MU = {"binary_entropy": 4.0, "box_squared": 1.0, "shannon": 1.0, "sparsemax": 1.0}  # strong convexity (ℓ2)

# (energy kind, regularizer): every energy with the regularizers its maximizers support
CASES = [
    ("quadratic", "binary_entropy"), ("quadratic", "box_squared"),
    ("quadratic_per_row", "binary_entropy"), ("quadratic_per_row", "box_squared"),
    ("low_rank", "binary_entropy"), ("low_rank", "box_squared"), ("low_rank", "shannon"), ("low_rank", "sparsemax"),
    ("mlp", "binary_entropy"), ("mlp", "box_squared"),
    ("icnn", "binary_entropy"), ("icnn", "box_squared"), ("icnn", "shannon"),
]
CONCAVE = [case for case in CASES if case[0] in ("low_rank", "icnn")]
AFFINE = [case for case in CASES if case[0].startswith("quadratic")]
# each example runs an iterative inner solver to 1e-11 two or three times: 50 examples keep a test near 2 s (ci)
SOLVER_HEAVY = settings(max_examples=50)


def make_omega(name):
    return regularizer(name, **({"s": 2} if name.startswith("capped") else {}))


def tight_maximizer(energy, omega):
    solver = maximizers.default_maximizer(energy, omega)
    return solver if isinstance(solver, maximizers.ClosedForm) else type(solver)(tol=TIGHT, max_iter=5000)


def make_case(kind, omega_name, rng, n=3, k=4, d=2):
    """(loss, params, y): F concave for the quadratic kinds (‖A‖₂ ≤ 0.9 μ_Ω), y a vertex or an interior point."""
    omega = make_omega(omega_name)
    theta = 1.5 * rng.normal(size=(n, k))
    if kind.startswith("quadratic"):
        b = rng.normal(size=(n, k, k) if kind.endswith("per_row") else (k, k))
        a = (b + b.swapaxes(-1, -2)) / 2
        if omega_name == "binary_entropy":  # zero diagonal, as in docs/fenchel_young.md §2 (the low-rank cases cover A_jj ≠ 0)
            a -= np.einsum("...ij,ij->...ij", a, np.eye(k))
        a *= 0.9 * MU[omega_name] / np.abs(np.linalg.eigvalsh(a)).max()
        energy, params = energies.Quadratic(), (theta, a)
    elif kind == "low_rank":
        energy, params = energies.LowRankConcave(), (theta, rng.normal(size=(k, 2)))
    elif kind == "mlp":
        energy = energies.MLPEnergy(d, k, hidden=(6,))
        params = (rng.normal(size=(n, d)), energy.init(rng))
    else:
        energy = energies.InputConcaveEnergy(d, k, hidden=(5, 4))
        params = (rng.normal(size=(n, d)), nn.tree_map(lambda w: w + 0.3 * rng.normal(size=w.shape), energy.init(rng)))
    if omega_name in ("binary_entropy", "box_squared") and rng.random() < 0.5:
        y = (rng.random((n, k)) < 0.5).astype(float)  # multilabel targets: vertices of the box
    else:
        y = omega.predict(2 * rng.normal(size=(n, k)))
    return refefl.GeneralizedFenchelYoungLoss(energy, omega, tight_maximizer(energy, omega)), params, y


def random_direction(params, rng):
    """A direction in parameter space; symmetric for matrices A of quadratic energies."""
    direction = nn.tree_map(lambda p: rng.normal(size=np.shape(p)), params)
    if isinstance(params, tuple) and np.ndim(params[1]) >= 2 and np.shape(params[1])[-1] == np.shape(params[1])[-2]:
        direction = (direction[0], (direction[1] + direction[1].swapaxes(-1, -2)) / 2)
    return direction


def objective(loss, params, y):
    return loss.energy.value(params, y) - loss.regularizer.value(y)


@pytest.mark.parametrize("kind,omega_name", CASES)
@SOLVER_HEAVY
@given(seed=SEEDS)
def test_loss_is_the_suboptimality_of_the_target(kind, omega_name, seed):
    """L = F(ŷ) − F(y) ≥ 0 with ŷ the prediction, and L = 0 at y = ŷ."""
    loss, params, y = make_case(kind, omega_name, np.random.default_rng(seed))
    value = loss.value(params, y)
    y_hat, info = loss.predict(params)
    assert np.all(value >= 0)
    assert_close(value, np.maximum(objective(loss, params, y_hat) - objective(loss, params, y), 0), scale=10)
    assert_close(info.objective, objective(loss, params, y_hat))
    assert np.all(loss.value(params, y_hat) == 0)


@pytest.mark.parametrize("kind,omega_name", CASES)
@SOLVER_HEAVY
@given(seed=SEEDS)
def test_gradient_matches_finite_differences(kind, omega_name, seed):
    rng = np.random.default_rng(seed)
    loss, params, y = make_case(kind, omega_name, rng)
    y_hat, _ = loss.predict(params)  # warm start: finite differences follow the same local maximizer
    direction = random_direction(params, rng)

    def along(t):
        return loss.value(nn.tree_map(lambda p, v: p + float(t) * v, params, direction), y, y0=y_hat).sum()

    fd = directional_derivative(along, 0.0, 1.0)
    grad = loss.grad(params, y, y0=y_hat)
    assert_close(nn.tree_vdot(grad, direction), fd, scale=FD_SCALE * (1 + abs(fd)))


@pytest.mark.parametrize("kind,omega_name", AFFINE)
@given(seed=SEEDS, weight=st.floats(0.1, 0.9))
def test_convex_in_params_when_energy_is_affine(kind, omega_name, seed, weight):
    rng = np.random.default_rng(seed)
    loss, p1, y = make_case(kind, omega_name, rng)
    _, p2, _ = make_case(kind, omega_name, rng)
    assert loss.energy.affine_in_params
    mix = nn.tree_map(lambda a, b: weight * a + (1 - weight) * b, p1, p2)
    bound = weight * loss.value(p1, y) + (1 - weight) * loss.value(p2, y)
    assert np.all(loss.value(mix, y) <= bound + 1e-10 * (1 + np.abs(bound)))


@pytest.mark.parametrize("kind,omega_name", CONCAVE + [("bilinear", name) for name in MU])
@SOLVER_HEAVY
@given(seed=SEEDS)
def test_strong_convexity_lower_bound(kind, omega_name, seed):
    """Φ(·, p) concave and Ω μ-strongly convex: L ≥ (μ/2)‖y − ŷ‖²."""
    rng = np.random.default_rng(seed)
    if kind == "bilinear":
        omega = make_omega(omega_name)
        loss = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), omega)
        params, y = 2 * rng.normal(size=(3, 4)), omega.predict(2 * rng.normal(size=(3, 4)))
    else:
        loss, params, y = make_case(kind, omega_name, rng)
    assert loss.energy.concave_in_y
    y_hat, _ = loss.predict(params)
    bound = MU[omega_name] / 2 * ((y - y_hat) ** 2).sum(axis=1)
    assert np.all(loss.value(params, y) >= bound - 1e-9)


@pytest.mark.parametrize("kind,omega_name", CASES)
@SOLVER_HEAVY
@given(seed=SEEDS, budget=st.integers(1, 3))
def test_approximate_maximizer_lower_bounds_the_loss(kind, omega_name, seed, budget):
    """L̃ = F(ỹ) − F(y) ≤ L after a few iterations: from a random start when F is concave (one maximizer), from
    the exact solver's own start otherwise (then ỹ is an earlier iterate of the same monotone ascent)."""
    rng = np.random.default_rng(seed)
    loss, params, y = make_case(kind, omega_name, rng)
    exact = loss.value(params, y)
    rough = type(loss.maximizer)(max_iter=budget, tol=1e-300)
    approximate = refefl.GeneralizedFenchelYoungLoss(loss.energy, loss.regularizer, rough)
    y_start = None if kind == "mlp" else loss.regularizer.predict(rng.normal(size=y.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        value = approximate.value(params, y, y0=y_start)
    assert np.all(value >= 0) and np.all(value <= exact + 1e-9 * (1 + exact))


@pytest.mark.parametrize("omega_name", sorted(REGULARIZERS))
@given(seed=SEEDS, scale=st.sampled_from([1.0, 30.0]))
def test_bilinear_is_the_classic_loss(omega_name, seed, scale):
    rng = np.random.default_rng(seed)
    omega = make_omega(omega_name)
    theta = scale * rng.normal(size=(4, 5))
    y = omega.predict(2 * rng.normal(size=(4, 5)))
    generalized = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), omega)
    classic = refefl.FenchelYoungLoss(omega)
    assert_close(generalized.value(theta, y), classic.value(theta, y), scale=10 * scale)
    assert_close(generalized.grad(theta, y), classic.grad(theta, y), scale=10)


def test_reference_values():
    """docs/fenchel_young.md §2: bilinear + binary negentropy, + ½‖·‖² on the box, simplex + Shannon."""
    theta, y = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 1.0]])
    logistic = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer("binary_entropy"))
    np.testing.assert_allclose(logistic.value(theta, y), [0.9142667], atol=5e-8)
    np.testing.assert_allclose(logistic.grad(theta, y), [[-0.268941, 0.119203, -0.377541]], atol=5e-7)
    assert_close(logistic.grad(theta, y), expit(theta) - y)
    box = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer("box_squared"))
    assert_close(box.predict(theta)[0], [[1.0, 0.0, 0.5]])
    assert_close(box.value(theta, y), [0.125])
    shannon = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer("shannon"))
    np.testing.assert_allclose(shannon.value(theta, [[0.0, 0.0, 1.0]]), [1.0045969], atol=5e-8)


@pytest.mark.parametrize("omega_name", ["binary_entropy", "box_squared"])
@pytest.mark.parametrize("shared", [False, True])
@given(seed=SEEDS)
def test_quadratic_gradient_closed_form(omega_name, shared, seed):
    """∇_θ L = ŷ − y and ∇_A L = ½(ŷŷᵀ − yyᵀ) (summed over rows for a shared A)."""
    loss, params, y = make_case("quadratic" if shared else "quadratic_per_row", omega_name, np.random.default_rng(seed))
    y_hat, _ = loss.predict(params)
    grad_theta, grad_a = loss.grad(params, y)
    outer = 0.5 * (np.einsum("ni,nj->nij", y_hat, y_hat) - np.einsum("ni,nj->nij", y, y))
    assert_close(grad_theta, y_hat - y, scale=1e3)
    assert_close(grad_a, outer.sum(axis=0) if shared else outer, scale=1e3)


def test_target_safeguard():
    """A solver stopped after one step from far away scores below the target: the row's loss and gradient are 0."""
    rng = np.random.default_rng(0)
    loss, params, _ = make_case("low_rank", "binary_entropy", rng)
    y_hat, _ = loss.predict(params)
    rough = refefl.GeneralizedFenchelYoungLoss(loss.energy, loss.regularizer, maximizers.FrankWolfe(max_iter=1))
    with pytest.warns(ConvergenceWarning):
        value, grad = rough.value_and_grad(params, y_hat, y0=np.full_like(y_hat, 0.999))
    assert np.all(value == 0)
    assert all(np.all(g == 0) for g in nn.tree_leaves(grad))


def test_value_and_grad_agree_with_value_and_grad():
    loss, params, y = make_case("icnn", "shannon", np.random.default_rng(5))
    value, grad = loss.value_and_grad(params, y)
    assert_close(value, loss.value(params, y))
    expected = nn.tree_leaves(loss.grad(params, y))
    assert all(np.array_equal(a, b) for a, b in zip(nn.tree_leaves(grad), expected))


@pytest.mark.parametrize("kind,omega_name", [("low_rank", "binary_entropy"), ("mlp", "box_squared")])
def test_float32_is_kept(kind, omega_name):
    loss, params, y = make_case(kind, omega_name, np.random.default_rng(6))
    loss = refefl.GeneralizedFenchelYoungLoss(loss.energy, loss.regularizer)
    params32 = nn.tree_map(lambda p: np.asarray(p, dtype=np.float32), params)
    value, grad = loss.value_and_grad(params32, y.astype(np.float32))
    assert value.dtype == np.float32
    assert all(g.dtype == np.float32 for g in nn.tree_leaves(grad))
    np.testing.assert_allclose(value, loss.value(params, y), rtol=1e-3, atol=1e-4)


def test_bad_input_raises():
    theta = np.zeros((2, 3))
    loss = refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer("shannon"))
    with pytest.raises(ValueError, match="outside the domain"):
        loss.value(theta, np.ones((2, 3)))
    with pytest.raises(ValueError, match="y must have shape"):
        loss.value(theta, np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="Bilinear"):
        refefl.GeneralizedFenchelYoungLoss(energies.Quadratic(), regularizer("shannon"), maximizers.ClosedForm())
    with pytest.raises(TypeError, match="Maximizer"):
        refefl.GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer("shannon"), maximizer="fw")
    with pytest.raises(TypeError, match="Energy"):
        refefl.GeneralizedFenchelYoungLoss(regularizer("shannon"), regularizer("shannon"))


def test_inputs_are_not_modified():
    loss, params, y = make_case("quadratic_per_row", "binary_entropy", np.random.default_rng(7))
    leaves = nn.tree_leaves((params, y))
    snapshot = [leaf.copy() for leaf in leaves]
    for leaf in leaves:
        leaf.setflags(write=False)
    loss.value_and_grad(params, np.asfortranarray(y), y0=y)
    assert all(np.array_equal(a, b) for a, b in zip(snapshot, leaves))
