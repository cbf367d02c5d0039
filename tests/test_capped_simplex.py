"""Capped simplex {0 ≤ y ≤ 1, Σy = s}: Euclidean projection (exact breakpoint search) and entropic map (σ(x − τ)).

Published vector, feasibility and KKT conditions, breakpoint search vs bisection, a generic constrained solver,
s = 1 vs sparsemax, closed forms of the conjugates, JVPs vs central differences, invariances, ``-inf`` scores,
extreme magnitudes, float32, validation; the map properties run on both backends (``backend`` fixture), and the
compiled twins must find the NumPy twins' free sets exactly. Generic Fenchel-Young properties live in
test_fenchel_young.py.
"""
import functools
import warnings

import numpy as np
import pytest
import scipy.optimize
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.special import expit, logit

import refefl
from refefl import _backend
from refefl.projections._capped_simplex import solve_capped_simplex, solve_capped_simplex_entropic
from refefl.projections._root_finding import ConvergenceWarning
from refefl.testing import assert_close, directional_derivative
from strategies import vectors, with_ties

MAPS = [refefl.projection_capped_simplex, refefl.capped_simplex_entropic]
MAP_IDS = ["projection", "entropic"]


@st.composite
def problems(draw, min_size=1, bound=10.0):
    """(x, s) with x of size k (ties frequent in half the draws) and 0 < s ≤ k, integer or not."""
    x = draw(vectors(min_size, 12, bound=bound))
    if draw(st.booleans()):
        x = with_ties(x)
    k = x.size
    s = draw(st.one_of(st.integers(1, k), st.floats(0, k, exclude_min=True, allow_subnormal=False)))
    return x, s


def bisection_projection(x, s, n_iter=200):
    """clip(x − τ, 0, 1) with τ by plain bisection on Σ clip(x − τ, 0, 1) = s (the slow, obvious reference)."""
    lo, hi = x.min() - 1.0, x.max()
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.clip(x - mid, 0, 1).sum() >= s else (lo, mid)
    return np.clip(x - (lo + hi) / 2, 0, 1)


def threshold(x, y):
    """τ of the projection read off its free coordinates (x_i − y_i = τ where 0 < y_i < 1), or None."""
    free = (y > 0) & (y < 1)
    return np.mean(x[free] - y[free]) if free.any() else None


# -- the Euclidean projection -------------------------------------------------------------------------------------
def test_published_vector():
    x = np.array([0, 0.25, 0.5, 0.75, 1])
    expected = [0, 0.125, 0.375, 0.625, 0.875]
    assert_close(refefl.projection_capped_simplex(x, 2), expected)
    assert_close(refefl.regularizer("capped_squared", s=2).predict(x), expected)


@given(problems())
def test_projection_feasible_and_kkt(backend, problem):
    """y ∈ C_s, and y = clip(x − τ, 0, 1) for one τ: x_i − y_i = τ on the free set, x_i ≤ τ where y_i = 0,
    x_i ≥ τ + 1 where y_i = 1 (with no free coordinate, such a τ exists: max_{y=0} x ≤ min_{y=1} x − 1)."""
    x, s = problem
    y = refefl.projection_capped_simplex(x, s, backend=backend)
    assert np.all((y >= 0) & (y <= 1))
    assert_close(y.sum(), s, scale=100)
    tol = 1e-12 * (1 + np.abs(x).max())
    zeros, ones, tau = x[y == 0], x[y == 1], threshold(x, y)
    if tau is None:
        assert zeros.max(initial=-np.inf) <= ones.min(initial=np.inf) - 1 + tol
    else:
        free = (y > 0) & (y < 1)
        assert np.all(np.abs(x[free] - y[free] - tau) <= 10 * tol)
        assert np.all(zeros <= tau + tol) and np.all(ones >= tau + 1 - tol)


@given(problems())
def test_breakpoint_search_matches_bisection(backend, problem):
    x, s = problem
    assert_close(refefl.projection_capped_simplex(x, s, backend=backend), bisection_projection(x, s), scale=100)


@pytest.mark.parametrize("seed", range(8))
def test_matches_generic_solver(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 7))
    x, s = rng.normal(size=k) * 2, float(rng.uniform(0.5, k - 0.5))
    ref = _slsqp(lambda y: 0.5 * np.sum((y - x) ** 2), lambda y: y - x, k, s, bound=0.0)
    np.testing.assert_allclose(refefl.projection_capped_simplex(x, s), ref, atol=1e-6)
    neg_entropy = lambda y: np.sum(y * np.log(y) + (1 - y) * np.log1p(-y)) - x @ y  # noqa: E731
    ref = _slsqp(neg_entropy, lambda y: logit(y) - x, k, s, bound=1e-12)
    np.testing.assert_allclose(refefl.capped_simplex_entropic(x, s), ref, atol=1e-6)


def _slsqp(objective, gradient, k, s, bound):
    constraint = {"type": "eq", "fun": lambda y: y.sum() - s, "jac": lambda y: np.ones(k)}
    result = scipy.optimize.minimize(
        objective, np.full(k, s / k), jac=gradient, bounds=[(bound, 1 - bound)] * k, constraints=[constraint],
        method="SLSQP", options={"ftol": 1e-14, "maxiter": 500},
    )
    assert result.success, result.message
    return result.x


@given(vectors(1, 12), st.booleans())
def test_s_equal_one_is_sparsemax(x, pad):
    if pad:  # an impossible coordinate changes nothing for either map
        x = np.append(x, -np.inf)
    assert_close(refefl.projection_capped_simplex(x, 1), refefl.sparsemax(x), scale=100)


def test_free_set_from_the_search_on_a_flat_stretch(backend):
    """x = [0, 0, 2, 0, 2], s = 2: every τ in [0, 1] solves Σ clip = 2, ŷ is locally constant, F is empty."""
    x = np.array([0.0, 0.0, 2.0, 0.0, 2.0])
    y, free = solve_capped_simplex(x, 2, backend=backend)
    np.testing.assert_array_equal(y, [0, 0, 1, 0, 1])
    assert not free.any()
    v = np.array([1.0, -2.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(refefl.regularizer("capped_squared", s=2).jvp(x, v), 0)


def test_free_set_keeps_blocks_closer_than_any_tolerance(backend):
    """Free coordinates 1e-12 apart stay free and distinct; the centred formula keeps their difference."""
    x = np.array([0.5 + 1e-12, 0.5, -3.0, 4.0])
    y, free = solve_capped_simplex(x, 2, backend=backend)
    np.testing.assert_array_equal(free, [True, True, False, False])
    assert y[0] - y[1] == pytest.approx(1e-12, rel=1e-3)
    assert_close(y, [0.5 + 5e-13, 0.5 - 5e-13, 0, 1])


# -- the entropic map ---------------------------------------------------------------------------------------------
def bisection_entropic(x, s, n_iter=200):
    """σ(x − τ) with τ by plain bisection on Σ σ(x − τ) = s, inside k σ(min x − τ) ≤ s ≤ k σ(max x − τ)."""
    lo, hi = x.min() - logit(s / x.size), x.max() - logit(s / x.size)
    for _ in range(n_iter):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expit(x - mid).sum() >= s else (lo, mid)
    return expit(x - (lo + hi) / 2)


@given(problems(bound=5.0))
def test_entropic_matches_bisection(backend, problem):
    """Over the whole range of s, including s = 1e-300 and s = k − 1e-15 where y saturates."""
    x, s = problem
    assume(s < x.size)  # s = k is the point {1}
    y = refefl.capped_simplex_entropic(x, s, backend=backend)
    np.testing.assert_allclose(y, bisection_entropic(x, s), rtol=0, atol=1e-13)


@given(problems(bound=5.0))
def test_entropic_feasible_and_stationary(backend, problem):
    """Σ σ(x − τ) = s, and logit(y_i) − x_i = −τ is the same for every i (stationarity of the Lagrangian); s is
    kept 0.01 away from 0 and k so that y stays far enough from 0 and 1 for logit(y) to be accurate."""
    x, s = problem
    assume(0.01 <= s <= x.size - 0.01)
    y, info = refefl.capped_simplex_entropic(x, s, return_info=True, backend=backend)
    assert info.converged and info.iterations <= 60 and np.all((y > 0) & (y < 1))
    assert_close(y.sum(), s, scale=100)
    minus_tau = logit(y) - x
    np.testing.assert_allclose(minus_tau, np.full(x.size, minus_tau.mean()), rtol=0, atol=1e-9)


def test_entropic_with_s_one_is_not_softmax():
    """k = 2, s = 1: σ(x₁ − τ) + σ(x₂ − τ) = 1 gives τ = (x₁ + x₂)/2 and y₁ = σ((x₁ − x₂)/2), not e^{x₁}/Σe^{x}."""
    x = np.array([1.0, 0.0])
    y = refefl.capped_simplex_entropic(x, 1)
    assert_close(y, [expit(0.5), expit(-0.5)])
    assert abs(y[0] - refefl.softmax(x)[0]) > 0.1


def test_entropic_reports_and_warns(backend):
    x = np.random.default_rng(0).normal(size=(20, 30)) * 4
    y, info = refefl.capped_simplex_entropic(x, 3.5, return_info=True, backend=backend)
    assert info.converged and 0 < info.iterations < 30 and info.max_abs_residual < 1e-12
    with pytest.warns(ConvergenceWarning, match="stopped after"):
        _, info = refefl.capped_simplex_entropic(x, 3.5, max_iter=1, return_info=True, backend=backend)
    assert not info.converged and info.max_bracket_width > 1e-3
    with pytest.raises(ValueError, match="max_iter"):
        refefl.capped_simplex_entropic(x, 3.5, max_iter=0, backend=backend)


# -- both maps ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
@given(problem=problems(min_size=2), shift=st.sampled_from([-1e3, 0.1, 7.0]))
def test_complement_symmetry_and_shift_invariance(capped_map, backend, problem, shift):
    """1 − y(−x, k − s) = y(x, s) (both Ω are symmetric under y ↦ 1 − y) and y(x + c, s) = y(x, s)."""
    capped_map = functools.partial(capped_map, backend=backend)
    x, s = problem
    assume(s < x.size)
    y = capped_map(x, s)
    assert_close(1 - capped_map(-x, x.size - s), y, scale=1e3)
    assert_close(capped_map(x + shift, s), y, scale=1e4)


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
@given(problem=problems(), random=st.randoms(use_true_random=False))
def test_permutation_equivariance(capped_map, backend, problem, random):
    capped_map = functools.partial(capped_map, backend=backend)
    x, s = problem
    perm = np.array(random.sample(range(x.size), x.size))
    assert_close(capped_map(x[perm], s), capped_map(x, s)[perm], scale=100)


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
def test_neg_inf_scores(capped_map, backend):
    capped_map = functools.partial(capped_map, backend=backend)
    x = np.array([0.3, -np.inf, 1.2, -0.5, -np.inf])
    y = capped_map(x, 1.5)
    np.testing.assert_array_equal(y[[1, 4]], 0)
    assert_close(y[[0, 2, 3]], capped_map(x[[0, 2, 3]], 1.5))
    # exactly s finite scores: the set is the indicator point, and the Jacobian is 0
    np.testing.assert_array_equal(capped_map(x[[0, 1, 2]], 2), [1, 0, 1])
    with pytest.raises(ValueError, match="infeasible"):
        capped_map(x, 3.5)


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
def test_extreme_magnitudes(capped_map, backend):
    """Shift-robust: huge gaps give the exact limits, ties at 1e300 share their unit, no warnings."""
    capped_map = functools.partial(capped_map, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(capped_map(np.array([1e300, 5e299, 5e299, -1e300]), 2), [1, 0.5, 0.5, 0])
        np.testing.assert_array_equal(capped_map(np.array([0.3, -1.2, 0.9, 0.1]) * 1e300, 2), [1, 0, 1, 0])
        y32 = capped_map(np.array([1.36762051e8, 1.59594639e8], dtype=np.float32), 1)
        assert y32.dtype == np.float32
        np.testing.assert_array_equal(y32, [0, 1])
        x = np.array([1e300, 1e300 * (1 - 2**-50), -1e300])  # two scores 8.9e284 apart, far beyond 1: split 1 / 0
        np.testing.assert_array_equal(capped_map(x, 1), [1, 0, 0])
        # gaps beyond the float range overflow to ±inf inside, silently and harmlessly
        np.testing.assert_array_equal(capped_map(np.array([1.7e308, -1.7e308, 0.0]), 2), [1, 0, 1])
        np.testing.assert_array_equal(capped_map(np.array([1.7e308, -1.7e308, 0.0]), 1.5), [1, 0, 0.5])


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
@given(x=vectors(1, 12, dtype=np.float32, bound=1e4), data=st.data())
def test_float32_kept_and_accurate(capped_map, backend, x, data):
    capped_map = functools.partial(capped_map, backend=backend)
    s = data.draw(st.floats(0.5, x.size, allow_subnormal=False), label="s") if x.size > 1 else 1.0
    y32 = capped_map(x, s)
    assert y32.dtype == np.float32
    assert_close(y32, capped_map(x.astype(np.float64), s), dtype=np.float32)


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
def test_batched_axis_and_layouts(capped_map, backend):
    capped_map = functools.partial(capped_map, backend=backend)
    x = np.asfortranarray(np.random.default_rng(2).normal(size=(6, 4, 3)) * 3)
    x.setflags(write=False)
    before = x.copy()
    y = capped_map(x[::2], 2.5, axis=0)
    np.testing.assert_array_equal(x, before)
    for i in range(4):
        for j in range(3):
            assert_close(y[:, i, j], capped_map(x[::2, i, j].copy(), 2.5))
    assert capped_map([3, 1, 2], 1).dtype == np.float64


# -- the compiled twins --------------------------------------------------------------------------------------------
needs_ext = pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")


@st.composite
def awkward_rows(draw):
    """(x, s): ties, -inf padding, scores beyond 2**53 or near 1e300, and s up to the number of finite scores."""
    x, _ = draw(problems(min_size=1, bound=draw(st.sampled_from([3.0, 1e3]))))
    x = x * draw(st.sampled_from([1.0, 1.0, 2.0**60, 1e297])) + draw(st.sampled_from([0.0, 2.0**53]))
    x = np.append(x, [-np.inf] * draw(st.integers(0, 2)))
    m = x.size - np.isneginf(x).sum()
    s = draw(st.one_of(st.integers(1, m), st.floats(0, m, exclude_min=True, allow_subnormal=False)))
    return x, s


@needs_ext
@given(awkward_rows())
def test_compiled_search_finds_the_same_breakpoints(problem):
    """The sort-free search ends on the breakpoints the sort-based one brackets: the same free set, exactly."""
    x, s = problem
    y_ext, free_ext = solve_capped_simplex(x, s, backend="ext")
    y_np, free_np = solve_capped_simplex(x, s, backend="numpy")
    np.testing.assert_array_equal(free_ext, free_np)
    assert_close(y_ext, y_np)


@needs_ext
@given(awkward_rows())
def test_compiled_entropic_map_agrees(problem):
    """ŷ = σ(u) and 1 − ŷ = σ(−u) agree (the margins u themselves are only as determined as σ(u) is)."""
    x, s = problem
    y_ext, u_ext, info_ext = solve_capped_simplex_entropic(x, s, backend="ext")
    y_np, u_np, info_np = solve_capped_simplex_entropic(x, s, backend="numpy")
    assert info_ext.converged and info_np.converged
    assert_close(y_ext, y_np)
    assert_close(expit(-u_ext), expit(-u_np))


@needs_ext
@pytest.mark.parametrize(
    "x",
    [
        np.arange(3000.0) * 1e-3,  # dense breakpoints: many Newton pieces
        2.0 ** -np.arange(60.0),  # breakpoints piled up near 0 and 1
        np.repeat([3.0, 2.0, 1.0, 0.0], 500),  # four blocks of ties
        np.random.default_rng(3).standard_cauchy(20000),  # heavy tails
    ],
    ids=["ramp", "geometric", "tied blocks", "cauchy"],
)
@pytest.mark.parametrize("s", [1.0, 2.5, 17.0, 0.5])
def test_compiled_twins_on_long_and_awkward_rows(x, s):
    s = min(s * x.size / 100, x.size - 0.5)
    y_ext, free_ext = solve_capped_simplex(x, s, backend="ext")
    y_np, free_np = solve_capped_simplex(x, s, backend="numpy")
    np.testing.assert_array_equal(free_ext, free_np)
    assert_close(y_ext, y_np, scale=10)
    y_ext, _, info = solve_capped_simplex_entropic(x, s, backend="ext")
    assert info.converged and info.iterations < 60
    assert_close(y_ext, solve_capped_simplex_entropic(x, s, backend="numpy")[0], scale=10)


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
def test_unknown_backend(capped_map):
    with pytest.raises(ValueError, match="backend"):
        capped_map(np.zeros(3), 1, backend="cuda")


@pytest.mark.parametrize("capped_map", MAPS, ids=MAP_IDS)
@pytest.mark.parametrize(
    "x, s, error, match",
    [
        ([0.0, 1.0], 0, ValueError, "positive"),
        ([0.0, 1.0], -1, ValueError, "positive"),
        ([0.0, 1.0], 2.5, ValueError, "s <= k"),
        ([0.0, 1.0], "2", TypeError, "real"),
        ([0.0, np.nan], 1, ValueError, "NaN"),
        ([0.0, np.inf], 1, ValueError, r"\+inf"),
        ([0.0, -np.inf, -np.inf], 1.5, ValueError, "infeasible"),
        ([[1.0, 2.0], [-np.inf, -np.inf]], 1, ValueError, "all -inf"),
    ],
)
def test_bad_input(capped_map, x, s, error, match):
    with pytest.raises(error, match=match):
        capped_map(np.asarray(x), s)


# -- the regularizers: conjugates and Jacobians --------------------------------------------------------------------
@given(problems(min_size=2))
def test_conjugates_closed_forms(problem):
    """Ω*(θ) = sτ + Σ h(θ_i − τ) (h the box-squared Huber) and sτ + Σ softplus(θ_i − τ), with the solvers' τ."""
    theta, s = problem
    assume(s < theta.size)
    y = refefl.projection_capped_simplex(theta, s)
    tau = threshold(theta, y)
    if tau is not None:
        u = theta - tau
        huber = np.where(u <= 0, 0, np.where(u >= 1, u - 0.5, u * u / 2))
        conj = refefl.regularizer("capped_squared", s=s).conjugate(theta)
        assert_close(conj, s * tau + huber.sum(), scale=1e3)
    tau = np.mean(theta - solve_capped_simplex_entropic(theta, s)[1])  # the solver's margins are θ − τ
    conj = refefl.regularizer("capped_entropy", s=s).conjugate(theta)
    assert_close(conj, s * tau + np.logaddexp(0, theta - tau).sum(), scale=1e3)


@given(problems(min_size=2), st.data())
def test_squared_jvp_matches_finite_differences_off_kinks(problem, data):
    theta, s = problem
    v = data.draw(vectors(theta.size, theta.size, bound=1.0), label="v")
    y = refefl.projection_capped_simplex(theta, s)
    tau = threshold(theta, y)
    assume(tau is not None and np.all(np.minimum(np.abs(theta - tau), np.abs(theta - tau - 1)) > 1e-4))
    omega = refefl.regularizer("capped_squared", s=s)
    fd = directional_derivative(lambda t: refefl.projection_capped_simplex(t, s), theta, v)
    jv = omega.jvp(theta, v)
    np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-7)
    # the Jacobian is an orthogonal projection: idempotent, and Σ Jv = 0
    assert_close(omega.jvp(theta, jv), jv, scale=100)
    assert abs(jv.sum()) < 1e-12 * theta.size


@given(problems(min_size=2, bound=5.0), st.data())
def test_entropic_jvp_matches_finite_differences(problem, data):
    theta, s = problem
    v = data.draw(vectors(theta.size, theta.size, bound=1.0), label="v")
    fd = directional_derivative(lambda t: refefl.capped_simplex_entropic(t, s), theta, v)
    np.testing.assert_allclose(refefl.regularizer("capped_entropy", s=s).jvp(theta, v), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["capped_squared", "capped_entropy"])
def test_jvp_is_zero_on_the_indicator_point(name):
    theta = np.array([[0.3, -np.inf, 1.2], [5.0, 5.0, -np.inf]])
    jv = refefl.regularizer(name, s=2).jvp(theta, np.ones_like(theta))
    np.testing.assert_array_equal(jv, 0)


@pytest.mark.parametrize("name", ["capped_squared", "capped_entropy"])
def test_regularizer_parameter_and_domain(name):
    with pytest.raises(ValueError, match="positive"):
        refefl.regularizer(name, s=0)
    omega = refefl.regularizer(name, s=2)
    assert omega.in_domain([1.0, 0.5, 0.5, 0.0]) and not omega.in_domain([1.0, 1.0, 0.5, 0.0])
    assert not omega.in_domain([1.5, 0.5, 0.0, 0.0])
    assert repr(omega).endswith("(s=2.0)")
