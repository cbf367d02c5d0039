"""Maximizers of F(y) = Φ(y) − Ω(y): agreement with a multi-start L-BFGS-B oracle on the box (small k), agreement
of all solvers where the maximizer is unique (F concave), monotone coordinate ascent, the duality-gap bound,
stationarity, warm starts, budgets and warnings, ∇Ω against finite differences, validation, dtypes."""
import itertools
import warnings

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logit

from refefl import energies, maximizers, nn, regularizer
from refefl.maximizers._coordinate import coordinate_ascent_box
from refefl.projections._root_finding import ConvergenceWarning
from refefl.regularizers import REGULARIZERS
from refefl.testing import assert_close, directional_derivative

SEEDS = st.integers(0, 2**32 - 1)
BOX = ["binary_entropy", "box_squared"]
TIGHT = 1e-10  # solver tolerance on stationarity for comparisons at ~1e-9


def box_oracle(energy, omega, params, rng, n_starts, vertices=False):
    """Best of L-BFGS-B solves of max_{y∈[0,1]^k} F(y) from ``n_starts`` random points (and from every vertex of
    the box if ``vertices``, where the maxima of non-concave problems often sit), row by row (F is separable).

    For binary negentropy the bounds are [1e-10, 1 − 1e-10], where ∇Ω = logit stays finite (±23); the oracle's
    answer is then within 1e-10 of the maximizer in each coordinate.
    """
    n, k = energy.output_shape(energy.check_params(params))
    entropic = omega.name == "binary_entropy"
    lo = 1e-10 if entropic else 0.0

    def negative_f(z):
        y = z.reshape(n, k)
        grad_omega = logit(y) if entropic else y
        return -(energy.value(params, y) - omega.value(y)).sum(), -(energy.grad_y(params, y) - grad_omega).ravel()

    starts = [lo + (1 - 2 * lo) * rng.random(n * k) for _ in range(n_starts)]
    if vertices:
        starts += [np.tile(np.clip(vertex, lo, 1 - lo), n) for vertex in itertools.product([0.0, 1.0], repeat=k)]
    best_y, best_f = None, np.full(n, -np.inf)
    for z0 in starts:
        res = scipy.optimize.minimize(negative_f, z0, jac=True, method="L-BFGS-B", bounds=[(lo, 1 - lo)] * (n * k),
                                      options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 1000})
        y = res.x.reshape(n, k)
        f = energy.value(params, y) - omega.value(y)
        best_y = y if best_y is None else np.where((f > best_f)[:, None], y, best_y)
        best_f = np.maximum(f, best_f)
    return best_y, best_f


def solvers_for(energy, omega, tol=TIGHT):
    """Every maximizer that supports (energy, omega), with a tight tolerance.

    Frank-Wolfe is left out on the permutahedron for non-bilinear energies: its oracle overshoots there (Ω is only
    weakly curved), so it zig-zags and would need far more than 5000 iterations to reach ``tol``.
    """
    candidates = []
    if isinstance(energy, energies.Bilinear) or not omega.name.startswith("perm"):
        candidates.append(maximizers.FrankWolfe(tol=tol, max_iter=5000))
    if isinstance(energy, energies.PairwiseEnergy) and maximizers.CoordinateAscent.supports(omega):
        candidates.append(maximizers.CoordinateAscent(tol=tol, max_iter=2000))
    if omega.legendre:
        candidates.append(maximizers.MirrorAscent(tol=tol, max_iter=5000))
    else:
        candidates.append(maximizers.ProjectedGradientAscent(tol=tol, max_iter=5000))
    if isinstance(energy, energies.Bilinear):
        candidates.append(maximizers.ClosedForm())
    return candidates


def concave_problem(kind, rng, n=3, k=3):
    theta = 2 * rng.normal(size=(n, k))
    if kind == "low_rank":
        return energies.LowRankConcave(), (theta, rng.normal(size=(k, 2)))
    if kind == "low_rank_per_row":
        return energies.LowRankConcave(), (theta, rng.normal(size=(n, k, 2)))
    energy = energies.InputConcaveEnergy(2, k, hidden=(4, 3))
    weights = nn.tree_map(lambda w: w + 0.5 * rng.normal(size=w.shape), energy.init(rng))
    return energy, (rng.normal(size=(n, 2)), weights)


def indefinite_quadratic(rng, omega_name, n=2, k=3, scale=2.0):
    """A Quadratic with an indefinite A (F is not concave) and A_jj below the coordinate-ascent bound."""
    b = scale * rng.normal(size=(k, k))
    a = (b + b.T) / 2
    np.fill_diagonal(a, 0.0 if omega_name == "binary_entropy" else -0.5)
    return energies.Quadratic(), (rng.normal(size=(n, k)), a)


@pytest.mark.parametrize("omega_name", BOX)
@pytest.mark.parametrize("kind", ["low_rank", "low_rank_per_row", "icnn"])
@settings(max_examples=15)  # each example runs an L-BFGS-B oracle: keep the test near 1 s under the ci profile
@given(seed=SEEDS)
def test_concave_case_matches_oracle(omega_name, kind, seed):
    """F concave and Ω strictly convex: the maximizer is unique, every solver and the oracle find it."""
    rng = np.random.default_rng(seed)
    energy, params = concave_problem(kind, rng)
    omega = regularizer(omega_name)
    y_star, f_star = box_oracle(energy, omega, params, rng, n_starts=1)
    for solver in solvers_for(energy, omega):
        y, info = solver.maximize(energy, omega, params)
        assert info.converged, solver
        assert np.all(info.objective >= f_star - 1e-9), solver
        np.testing.assert_allclose(y, y_star, atol=2e-5, err_msg=repr(solver))


@pytest.mark.parametrize("omega_name", BOX)
@settings(max_examples=10)  # multi-start oracle: see above
@given(seed=SEEDS)
def test_nonconcave_quadratic_against_multistart_oracle(omega_name, seed):
    """F not concave: coordinate ascent reaches a stationary point no better than the global optimum, and started
    at the oracle's maximizer it stays there."""
    rng = np.random.default_rng(seed)
    energy, params = indefinite_quadratic(rng, omega_name)
    omega = regularizer(omega_name)
    y_star, f_star = box_oracle(energy, omega, params, rng, n_starts=4, vertices=True)
    solver = maximizers.CoordinateAscent(tol=TIGHT, max_iter=2000)
    y, info = solver.maximize(energy, omega, params)
    # after a last sweep moving no coordinate by more than tol, each field is off by at most Σ_i |A_ji| tol
    assert info.converged and np.all(info.stationarity <= (1 + np.abs(params[1]).sum(axis=1).max()) * TIGHT)
    assert np.all(info.objective <= f_star + 1e-9)
    y_warm, info_warm = solver.maximize(energy, omega, params, y0=y_star)
    assert np.all(info_warm.objective >= f_star - 1e-9)
    np.testing.assert_allclose(y_warm, y_star, atol=2e-5)


@pytest.mark.parametrize("omega_name", BOX)
@pytest.mark.parametrize("concave", [True, False])
@given(seed=SEEDS)
def test_coordinate_ascent_is_monotone(omega_name, concave, seed):
    rng = np.random.default_rng(seed)
    if concave:
        energy, params = concave_problem("low_rank_per_row", rng, n=4, k=5)
    else:
        energy, params = indefinite_quadratic(rng, omega_name, n=4, k=5, scale=3.0)
    omega = regularizer(omega_name)
    y = rng.random((4, 5))
    previous = energy.value(params, y) - omega.value(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(6):  # one sweep at a time, each warm-started from the last
            y, info = maximizers.CoordinateAscent(max_iter=1, tol=1e-300).maximize(energy, omega, params, y0=y)
            assert np.all(info.objective >= previous - 1e-12 * (1 + np.abs(previous)))
            previous = info.objective


def test_coordinate_ascent_single_coordinate_updates():
    """docs/fenchel_young.md §2 closed forms: σ(θ_j + Σ_{i≠j} A_ji y_i) and clip((θ_j + Σ_{i≠j} A_ji y_i)/(1 − A_jj), 0, 1)."""
    theta, a = np.array([[0.3, -1.0]]), np.array([[-0.5, 2.0], [2.0, 0.25]])
    y = np.array([[0.2, 0.7]])
    out = y.copy()
    n_iter = np.empty(1, dtype=np.intp)
    coordinate_ascent_box(theta, a[None], out, False, 1, 0.0, n_iter)
    y0 = np.clip((0.3 + 2.0 * 0.7) / 1.5, 0, 1)
    assert_close(out, [[y0, np.clip((-1.0 + 2.0 * y0) / 0.75, 0, 1)]])
    a[0, 0] = a[1, 1] = 0.0
    out = y.copy()
    coordinate_ascent_box(theta, a[None], out, True, 1, 0.0, n_iter)
    y0 = 1 / (1 + np.exp(-(0.3 + 2.0 * 0.7)))
    assert_close(out, [[y0, 1 / (1 + np.exp(-(-1.0 + 2.0 * y0)))]])


@pytest.mark.parametrize("omega_name", ["binary_entropy", "box_squared", "shannon", "sparsemax", "capped_entropy",
                                        "perm_squared", "perm_entropy"])
@settings(max_examples=40)  # two or three solvers run to 1e-10 per example (capped_entropic ŷ costs a root find)
@given(seed=SEEDS)
def test_solvers_agree_on_concave_energies(omega_name, seed):
    """F concave: every solver reaches the same point, certified optimal by a vanishing duality gap."""
    rng = np.random.default_rng(seed)
    energy, params = concave_problem("low_rank", rng, n=3, k=4)
    omega = regularizer(omega_name, **({"s": 2} if omega_name.startswith("capped") else {}))
    solvers = solvers_for(energy, omega)
    results = [solver.maximize(energy, omega, params) for solver in solvers]
    for solver, (y, info) in zip(solvers, results):
        assert info.converged and np.all(omega.in_domain(y))
        assert np.all(info.gap <= 1e-12 * (1 + np.abs(info.objective)))
        if not isinstance(solver, maximizers.CoordinateAscent):  # which stops on the size of a sweep's moves
            assert np.all(info.stationarity <= TIGHT)
        np.testing.assert_allclose(y, results[0][0], atol=1e-9)


@pytest.mark.parametrize("omega_name", sorted(REGULARIZERS))
@given(seed=SEEDS)
def test_bilinear_maximizer_is_the_prediction(omega_name, seed):
    rng = np.random.default_rng(seed)
    omega = regularizer(omega_name, **({"s": 2} if omega_name.startswith("capped") else {}))
    theta = 2 * rng.normal(size=(3, 5))
    for solver in solvers_for(energies.Bilinear(), omega):
        y, info = solver.maximize(energies.Bilinear(), omega, theta)
        np.testing.assert_allclose(y, omega.predict(theta), atol=1e-9, err_msg=repr(solver))
        assert info.converged


@pytest.mark.parametrize("omega_name", BOX)
@settings(max_examples=100)  # the exact solve is coordinate ascent with a Newton root find per coordinate
@given(seed=SEEDS, budget=st.integers(1, 3))
def test_gap_bounds_suboptimality(omega_name, seed, budget):
    """Concave Φ: max F − F(ỹ) ≤ gap(ỹ) at any iterate ỹ, here after a tiny budget."""
    rng = np.random.default_rng(seed)
    energy, params = concave_problem("low_rank_per_row", rng, n=5, k=4)
    omega = regularizer(omega_name)
    _, exact = maximizers.CoordinateAscent(tol=TIGHT, max_iter=2000).maximize(energy, omega, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, rough = maximizers.FrankWolfe(max_iter=budget, tol=1e-300).maximize(energy, omega, params)
    assert np.all(exact.objective - rough.objective <= rough.gap + 1e-12)
    assert np.all(rough.gap >= 0) and np.all(exact.gap <= 1e-12)


def test_unconverged_solvers_warn_and_report():
    rng = np.random.default_rng(0)
    energy, params = concave_problem("low_rank", rng, n=3, k=6)
    for solver, omega_name in [(maximizers.CoordinateAscent(max_iter=1, tol=1e-300), "binary_entropy"),
                               (maximizers.FrankWolfe(max_iter=2), "box_squared"),
                               (maximizers.MirrorAscent(max_iter=1, tol=1e-300), "binary_entropy"),
                               (maximizers.ProjectedGradientAscent(max_iter=1, tol=1e-300), "box_squared")]:
        with pytest.warns(ConvergenceWarning, match=type(solver).__name__):
            _, info = solver.maximize(energy, regularizer(omega_name), params)
        assert not info.converged and info.iterations == solver.max_iter


@pytest.mark.parametrize("omega_name", BOX)
def test_warm_start_at_the_solution_stops_at_once(omega_name):
    rng = np.random.default_rng(1)
    energy, params = concave_problem("low_rank", rng)
    omega = regularizer(omega_name)
    for solver in solvers_for(energy, omega, tol=1e-9):
        y, _ = solver.maximize(energy, omega, params)
        y_again, info = solver.maximize(energy, omega, params, y0=y)
        assert info.iterations <= 1 and info.converged, solver
        np.testing.assert_allclose(y_again, y, atol=1e-9)


def test_mirror_ascent_accepts_a_warm_start_on_the_boundary():
    energy, params = concave_problem("low_rank", np.random.default_rng(2))
    omega = regularizer("binary_entropy")
    y0 = np.array([[1.0, 0.0, 1.0]] * 3)
    y, info = maximizers.MirrorAscent(tol=TIGHT).maximize(energy, omega, params, y0=y0)
    y_ref, _ = maximizers.CoordinateAscent(tol=TIGHT).maximize(energy, omega, params)
    assert info.converged
    np.testing.assert_allclose(y, y_ref, atol=1e-9)


@pytest.mark.parametrize("omega_name", ["binary_entropy", "box_squared", "shannon", "sparsemax", "tsallis",
                                        "capped_squared", "capped_entropy", "perm_squared", "perm_entropy"])
@given(seed=SEEDS)
def test_regularizer_gradient(omega_name, seed):
    """∇Ω used by the first-order solvers: ŷ_Ω(∇Ω(y)) = y, and ⟨∇Ω(y), v⟩ matches finite differences of Ω along
    directions v in the affine hull of C (interior points)."""
    rng = np.random.default_rng(seed)
    omega = regularizer(omega_name, **({"s": 2} if omega_name.startswith("capped") else {}))
    y = omega.predict(rng.normal(size=(3, 5)))
    v = rng.normal(size=y.shape)
    if omega_name in ("shannon", "sparsemax", "tsallis") or omega_name.startswith("capped"):
        v -= v.mean(axis=1, keepdims=True)  # stay on {Σ y = const}
    assert_close(omega.predict(omega._gradient(y)), y, scale=1e3)
    slack = np.minimum(y, 1 - y).min() / (np.abs(v).max() * 2)
    if slack > 1e-4 and not omega_name.startswith("perm"):  # the finite-difference points stay in C
        fd = directional_derivative(lambda z: omega.value(z).sum(), y, v)
        assert_close(np.vdot(omega._gradient(y), v), fd, scale=1e4 * (1 + abs(fd)))
    z = 3 * rng.normal(size=(3, 5))
    assert np.all(omega.in_domain(omega._project(z)))


def test_unsupported_combinations_raise():
    quad = (np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="pairwise"):
        maximizers.CoordinateAscent().maximize(energies.Bilinear(), regularizer("box_squared"), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="supports the regularizers"):
        maximizers.CoordinateAscent().maximize(energies.Quadratic(), regularizer("shannon"), quad)
    with pytest.raises(ValueError, match="A_jj < 1"):
        maximizers.CoordinateAscent().maximize(energies.Quadratic(), regularizer("box_squared"),
                                               (np.zeros((2, 3)), np.eye(3)))
    with pytest.raises(ValueError, match="A_jj < 4"):
        maximizers.CoordinateAscent().maximize(energies.Quadratic(), regularizer("binary_entropy"),
                                               (np.zeros((2, 3)), 4 * np.eye(3)))
    with pytest.raises(ValueError, match="MirrorAscent"):
        maximizers.ProjectedGradientAscent().maximize(energies.Quadratic(), regularizer("binary_entropy"), quad)
    with pytest.raises(ValueError, match="entropic"):
        maximizers.MirrorAscent().maximize(energies.Quadratic(), regularizer("box_squared"), quad)
    with pytest.raises(ValueError, match="Bilinear"):
        maximizers.ClosedForm().maximize(energies.Quadratic(), regularizer("box_squared"), quad)
    with pytest.raises(ValueError, match="outside the domain"):
        maximizers.FrankWolfe().maximize(energies.Quadratic(), regularizer("box_squared"), quad, y0=2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="max_iter"):
        maximizers.FrankWolfe(max_iter=0)
    with pytest.raises(ValueError, match="at most 1"):
        maximizers.MirrorAscent(step_size=2.0)
    with pytest.raises(TypeError, match="Energy"):
        maximizers.FrankWolfe().maximize(np.zeros, regularizer("box_squared"), quad)


@pytest.mark.parametrize("omega_name", BOX)
def test_float32_and_huge_scores(omega_name):
    rng = np.random.default_rng(3)
    omega = regularizer(omega_name)
    theta, v = rng.normal(size=(4, 5)), rng.normal(size=(5, 2))
    params32 = (theta.astype(np.float32), v.astype(np.float32))
    for solver in solvers_for(energies.LowRankConcave(), omega, tol=None):
        y32, info = solver.maximize(energies.LowRankConcave(), omega, params32)
        y64, _ = solver.maximize(energies.LowRankConcave(), omega, (theta, v))
        assert y32.dtype == np.float32 and info.converged
        np.testing.assert_allclose(y32, y64, atol=1e-3)
    huge = theta * 1e300
    y, info = maximizers.CoordinateAscent().maximize(energies.Quadratic(), omega, (huge, np.zeros((5, 5))))
    assert info.converged and np.all(np.isfinite(info.objective))
    np.testing.assert_array_equal(y, (theta > 0).astype(float))
