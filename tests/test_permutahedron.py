"""Permutahedron projections, soft rank and soft sort: optimality, generic solver, limits, invariances, JVPs."""
import itertools

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from hypothesis import assume, given
from hypothesis import strategies as st

import refefl
from refefl import _backend
from refefl.projections import projection_permutahedron_jvp, soft_rank_jvp, soft_sort_jvp
from refefl.projections._permutahedron_kernels import descending_order
from refefl.regularizers._permutahedron import majorized
from refefl.testing import assert_close, directional_derivative
from strategies import vectors, with_ties

REGS = ["l2", "kl"]
DIRECTIONS = ["ascending", "descending"]
seeds = st.integers(0, 2**32 - 1)


def _log_weights(w, reg):
    return np.log(w) if reg == "kl" else w


def _gradient_of_objective(z, mu, reg):
    """∇ of ⟨μ, z⟩ − Ψ(μ) at μ: z − μ (Q) or z − log μ (E)."""
    return z - (np.log(mu) if reg == "kl" else mu)


def _linear_oracle_gap(g, mu, w):
    """max_{y ∈ P(w)} ⟨g, y⟩ − ⟨g, μ⟩ (rearrangement: pair sorted g with sorted w); 0 iff μ is optimal."""
    return np.sort(g) @ np.sort(w) - g @ mu


# -- optimality and agreement with a generic solver ------------------------------------------------------------
@given(vectors(1, 12), seeds, st.sampled_from(REGS), st.booleans())
def test_feasible_and_optimal(backend, z, seed, reg, ties):
    """μ ∈ P(w) and the first-order condition: no vertex of P(w) improves along the objective's gradient."""
    z = with_ties(z) if ties else z
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.1, 5, z.size) if reg == "kl" else rng.normal(size=z.size) * 3
    mu = refefl.projection_permutahedron(z, w, regularization=reg, backend=backend)
    assert majorized(mu, w, 1e-10)
    g = _gradient_of_objective(z, mu, reg)
    gap = _linear_oracle_gap(g, mu, w)
    assert abs(gap) <= 1e-9 * (1 + np.abs(g).sum() * np.abs(w).max())


def _generic_projection(z, w, reg):
    """SLSQP over Rado's majorization inequalities (every subset), the reference for small n."""
    n, top = z.size, np.cumsum(np.sort(w)[::-1])
    cons = [{"type": "eq", "fun": lambda mu: mu.sum() - w.sum()}]
    for k in range(1, n):
        for subset in itertools.combinations(range(n), k):
            cons.append({"type": "ineq", "fun": lambda mu, s=list(subset), k=k: top[k - 1] - mu[s].sum()})
    if reg == "kl":
        obj = lambda mu: mu @ (np.log(mu) - 1) - mu @ z  # noqa: E731
        jac = lambda mu: np.log(mu) - z  # noqa: E731
        bounds = [(1e-12, None)] * n
    else:
        obj = lambda mu: 0.5 * (mu - z) @ (mu - z)  # noqa: E731
        jac = lambda mu: mu - z  # noqa: E731
        bounds = None
    x0 = np.full(n, w.mean())
    res = scipy.optimize.minimize(obj, x0, jac=jac, bounds=bounds, constraints=cons, method="SLSQP",
                                  options={"ftol": 1e-12, "maxiter": 500})
    assert res.success, res.message
    return res.x


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("seed", range(8))
def test_matches_generic_solver(reg, seed):
    rng = np.random.default_rng(seed)
    n = 2 + seed % 4
    z = rng.normal(size=n) * 2
    w = rng.uniform(0.2, 4, n)
    mu = refefl.projection_permutahedron(z, w, regularization=reg)
    np.testing.assert_allclose(mu, _generic_projection(z, w, reg), atol=1e-6)


@pytest.mark.parametrize("reg", REGS)
def test_soft_rank_and_sort_match_generic_solver(reg):
    """The documented reductions: rank = P(θ/ε, ρ); sort (descending) = P_Q(ρ/ε, θ) or log P_E(ρ/ε, e^θ)."""
    theta, eps = np.array([0.3, -1.2, 0.5, 2.0]), 0.7
    rho = np.arange(4, 0, -1.0)
    rank = refefl.soft_rank(theta, strength=eps, regularization=reg)
    np.testing.assert_allclose(rank, _generic_projection(theta / eps, rho, reg), atol=1e-6)
    desc = refefl.soft_sort(theta, strength=eps, regularization=reg, direction="descending")
    ref = _generic_projection(rho / eps, np.exp(theta) if reg == "kl" else theta, reg)
    np.testing.assert_allclose(desc, np.log(ref) if reg == "kl" else ref, atol=1e-6)


def test_published_values():
    """fast-soft-sort's README: soft_sort([5, 1, 2]) and soft_rank at strengths 1 and 2."""
    theta = np.array([5.0, 1.0, 2.0])
    assert_close(refefl.soft_sort(theta), [5 / 3, 8 / 3, 11 / 3])
    assert_close(refefl.soft_sort(theta, strength=0.1), [1, 2, 5])
    assert_close(refefl.soft_rank(theta, strength=2.0), [3, 1.25, 1.75])
    assert_close(refefl.soft_rank(theta), [3, 1, 2])


# -- the solver's blocks, not a tolerance (PEERS.md) ------------------------------------------------------------
def _jacobian(jvp, x):
    return np.stack([jvp(e) for e in np.eye(x.size)], axis=1)


@pytest.mark.parametrize("reg", REGS)
def test_blocks_5e10_apart_stay_separate(backend, reg):
    """PAV data [1 + 5e-10, 1, −3] is already decreasing: three blocks, so ∂P/∂z = 0 exactly (a value tolerance
    of 1e-9 would merge the first two and give I − B ≠ 0). A genuine tie block next to it still averages."""
    w = np.array([3.0, 2.0, 1.0])
    target = np.array([1 + 5e-10, 1.0, -3.0])  # s − w (l2) or s − log w (kl) fed to PAV
    z = target + _log_weights(w, reg)
    jac = _jacobian(lambda e: projection_permutahedron_jvp(z, w, e, regularization=reg, backend=backend), z)
    np.testing.assert_array_equal(jac, np.zeros((3, 3)))
    rank_jac = _jacobian(lambda e: soft_rank_jvp(z, e, regularization=reg, backend=backend), z)
    np.testing.assert_array_equal(rank_jac, np.zeros((3, 3)))
    w4 = np.array([4.0, 3.0, 2.0, 1.0])
    z4 = np.array([1 + 5e-10, 0.5, 1.0, -3.0]) + _log_weights(w4, reg)  # PAV pools only the middle pair
    opts = dict(regularization=reg, backend=backend)
    jac4 = _jacobian(lambda e: projection_permutahedron_jvp(z4, w4, e, **opts), z4)
    mu = refefl.projection_permutahedron(z4, w4, **opts)
    p = np.exp(z4[1:3] - np.logaddexp.reduce(z4[1:3])) if reg == "kl" else np.full(2, 0.5)
    block = (np.diag(mu[1:3]) if reg == "kl" else np.eye(2)) @ (np.eye(2) - np.outer(np.ones(2), p))
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = block
    if reg == "l2":
        np.testing.assert_array_equal(jac4, expected)
    assert_close(jac4, expected)
    assert np.all(jac4[[0, 3]] == 0) and np.all(jac4[:, [0, 3]] == 0)


def test_soft_sort_blocks_5e10_apart(backend):
    """ε = 1: PAV data ρ − θ_τ = [1 + 5e-10, 1, 0.5] is decreasing, so the Jacobian is the sorting permutation."""
    theta = np.array([0.5, 2 - 5e-10, 1.0])
    for reg in REGS:
        jac = _jacobian(lambda e: soft_sort_jvp(theta, e, regularization=reg, backend=backend), theta)
        np.testing.assert_array_equal(jac, np.eye(3)[[0, 2, 1]])


# -- limits ---------------------------------------------------------------------------------------------------
@given(vectors(1, 12, unique=True), st.sampled_from(REGS), st.sampled_from(DIRECTIONS))
def test_small_strength_gives_hard_rank_and_sort(backend, theta, reg, direction):
    gaps = np.diff(np.sort(theta))
    min_gap = gaps.min() if gaps.size else 1.0
    max_gap = gaps.max() if gaps.size else 1.0
    assume(min_gap / 2 > 0)  # a gap of one subnormal step leaves no positive strength below it
    rank = refefl.soft_rank(theta, strength=min_gap / 2, regularization=reg, direction=direction, backend=backend)
    hard = scipy.stats.rankdata(theta if direction == "ascending" else -theta)
    assert_close(rank, hard)
    # ε < 1/max gap (kept finite when the gap is subnormal)
    srt = refefl.soft_sort(theta, strength=0.5 / max(max_gap, 1e-300), regularization=reg, direction=direction,
                           backend=backend)
    assert_close(srt, np.sort(theta) if direction == "ascending" else np.sort(theta)[::-1])


@given(vectors(1, 12), st.sampled_from(REGS))
def test_large_strength_gives_the_mean(backend, theta, reg):
    n = theta.size
    rank = refefl.soft_rank(theta, strength=1e12, regularization=reg, backend=backend)
    assert_close(rank, np.full(n, (n + 1) / 2), scale=1e3)
    srt = refefl.soft_sort(theta, strength=1e12, regularization=reg, backend=backend)
    limit = np.log(np.mean(np.exp(theta))) if reg == "kl" else theta.mean()
    assert_close(srt, np.full(n, limit), scale=1e3)


# -- invariances ------------------------------------------------------------------------------------------------
@given(vectors(1, 12), seeds, st.sampled_from(REGS), st.sampled_from(DIRECTIONS), st.booleans())
def test_rank_equivariant_sort_invariant(theta, seed, reg, direction, ties):
    theta = with_ties(theta) if ties else theta
    perm = np.random.default_rng(seed).permutation(theta.size)
    opts = dict(strength=0.8, regularization=reg, direction=direction)
    assert_close(refefl.soft_rank(theta[perm], **opts), refefl.soft_rank(theta, **opts)[perm])
    assert_close(refefl.soft_sort(theta[perm], **opts), refefl.soft_sort(theta, **opts))
    rank = refefl.soft_rank(theta, **opts)
    for value in np.unique(theta):  # tied entries share a PAV block: exactly equal ranks, whatever the sort order
        assert np.ptp(rank[theta == value]) == 0


@given(vectors(1, 12), st.sampled_from(REGS))
def test_rank_feasible_and_directions(theta, reg):
    """Ranks lie in P(ρ); exp of the log-KL sort lies in P(e^θ), the l2 sort in P(θ); ascending = reversed."""
    n, rho = theta.size, np.arange(theta.size, 0, -1.0)
    rank = refefl.soft_rank(theta, strength=0.5, regularization=reg)
    assert majorized(rank, rho, 1e-10)
    srt = refefl.soft_sort(theta, strength=0.5, regularization=reg, direction="descending")
    assert majorized(np.exp(srt - theta.max()), np.exp(theta - theta.max()), 1e-9) if reg == "kl" else \
        majorized(srt, theta, 1e-10)
    assert_close(refefl.soft_sort(theta, strength=0.5, regularization=reg), srt[::-1])
    if reg == "l2":  # descending ranks are n + 1 − ascending ranks for the Euclidean projection
        desc = refefl.soft_rank(theta, strength=0.5, direction="descending")
        assert_close(desc, n + 1 - rank, scale=10)


# -- JVPs against central differences ---------------------------------------------------------------------------
def _random_problem(seed, n_max=8):
    rng = np.random.default_rng(seed)
    n = rng.integers(1, n_max + 1)
    return rng, rng.normal(size=n) * 2, rng.normal(size=n), float(rng.uniform(0.2, 3))


@given(seeds, st.sampled_from(REGS), st.sampled_from(DIRECTIONS))
def test_soft_jvps_match_finite_differences(seed, reg, direction):
    _, theta, v, eps = _random_problem(seed)
    opts = dict(strength=eps, regularization=reg, direction=direction)
    for fun, jvp in [(refefl.soft_rank, soft_rank_jvp), (refefl.soft_sort, soft_sort_jvp)]:
        fd = directional_derivative(lambda x: fun(x, **opts), theta, v)
        np.testing.assert_allclose(jvp(theta, v, **opts), fd, rtol=1e-6, atol=1e-7)


@given(seeds, st.sampled_from(REGS))
def test_projection_jvp_matches_finite_differences(seed, reg):
    rng, z, v, _ = _random_problem(seed)
    w, v_w = rng.uniform(0.2, 4, z.size), rng.normal(size=z.size)
    fd = directional_derivative(lambda x: refefl.projection_permutahedron(x, w, regularization=reg), z, v)
    np.testing.assert_allclose(projection_permutahedron_jvp(z, w, v, regularization=reg), fd, rtol=1e-6, atol=1e-7)
    fd_w = directional_derivative(lambda x: refefl.projection_permutahedron(z, x, regularization=reg), w, v_w)
    both = projection_permutahedron_jvp(z, w, v, v_w=v_w, regularization=reg)
    np.testing.assert_allclose(both, fd + fd_w, rtol=1e-6, atol=1e-7)


# -- backends, dtypes, batching, extreme input --------------------------------------------------------------------
@given(seeds, st.sampled_from(REGS), st.sampled_from([np.float64, np.float32]))
def test_backends_agree(backend, seed, reg, dtype):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(3, 7)).astype(dtype)
    v = rng.normal(size=(3, 7)).astype(dtype)
    for fun in [refefl.soft_rank, refefl.soft_sort, soft_rank_jvp, soft_sort_jvp]:
        args = (theta,) if fun in (refefl.soft_rank, refefl.soft_sort) else (theta, v)
        out = fun(*args, regularization=reg, backend=backend)
        assert out.dtype == dtype
        assert_close(out, fun(*args, regularization=reg, backend="numpy"))


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("strength", [1e-30, 1e-6, 1e-3, 1.0])
def test_float32_small_strength_stays_finite(reg, strength):
    """The peers' KL soft-rank gradients turn NaN at small strength in float32; here every value is finite."""
    rng = np.random.default_rng(0)
    theta = np.concatenate([rng.normal(size=50), [0.5, 0.5], [1.36762051e8, 1.59594639e8]]).astype(np.float32)
    v = rng.normal(size=theta.size).astype(np.float32)
    for fun, jvp in [(refefl.soft_rank, soft_rank_jvp), (refefl.soft_sort, soft_sort_jvp)]:
        out = fun(theta, strength=strength, regularization=reg)
        tangent = jvp(theta, v, strength=min(strength * 1e3, 1.0), regularization=reg)
        assert out.dtype == tangent.dtype == np.float32
        assert np.isfinite(out).all() and np.isfinite(tangent).all()
    rank = refefl.soft_rank(theta, strength=strength * 1e-3, regularization=reg)
    assert_close(rank, scipy.stats.rankdata(theta), dtype=np.float32)


@pytest.mark.parametrize("reg", REGS)
def test_huge_inputs(reg):
    theta = np.array([1e300, -1e300, 0.0, 3e299, 3e299])
    for strength in [1e-300, 1e-10, 1.0]:
        assert_close(refefl.soft_rank(theta, strength=strength, regularization=reg), [5, 1, 2, 3.5, 3.5])
    assert_close(refefl.soft_sort(theta, strength=1e-310, regularization=reg), np.sort(theta))
    mu = refefl.projection_permutahedron(theta, np.arange(5.0) + 1, regularization=reg)
    assert_close(mu, [5, 1, 2, 3.5, 3.5])


@given(st.sampled_from(REGS))
def test_batched_axis_strided_readonly(reg):
    rng = np.random.default_rng(3)
    theta = np.asfortranarray(rng.normal(size=(4, 9, 3)))
    theta.setflags(write=False)
    before = theta.copy()
    view = theta[:, ::2]
    for fun in [refefl.soft_rank, refefl.soft_sort]:
        out = fun(view, axis=1, regularization=reg)
        np.testing.assert_array_equal(theta, before)
        for i, j in itertools.product(range(4), range(3)):
            assert_close(out[i, :, j], fun(np.ascontiguousarray(view[i, :, j]), regularization=reg))
    w = np.arange(1.0, 6.0)
    out = refefl.projection_permutahedron(view, w, axis=1, regularization=reg)
    assert_close(out[1, :, 2], refefl.projection_permutahedron(view[1, :, 2], w, regularization=reg))
    full_w = np.broadcast_to(w[None, :, None], view.shape)
    assert_close(refefl.projection_permutahedron(view, full_w, axis=1, regularization=reg), out)


def test_single_entry_and_integers():
    assert_close(refefl.soft_rank([7.0]), [1.0])
    assert_close(refefl.soft_sort([7.0], regularization="kl"), [7.0])
    assert refefl.soft_rank([3, 1, 2]).dtype == np.float64


# -- the sort keys and the compiled kernel -------------------------------------------------------------------------
@given(vectors(1, 30, dtype=np.float32, bound=float(np.float32(1e30))), st.booleans())
def test_sort_keys_sort_float32_exactly(backend, x, decreasing):
    """One uint64 sort of the packed keys gives a permutation that sorts float32 rows exactly, ties by position."""
    rows = np.stack([x, -x])
    order = descending_order(rows, decreasing, backend)
    for row, perm in zip(rows, order):
        np.testing.assert_array_equal(np.sort(perm), np.arange(x.size))
        np.testing.assert_array_equal(row[perm], np.sort(row)[::-1] if decreasing else np.sort(row))
        tied = row[perm][1:] == row[perm][:-1]
        same_sign = np.signbit(row[perm][1:]) == np.signbit(row[perm][:-1])  # −0.0 and +0.0 are ordered
        assert np.all(perm[1:][tied & same_sign] > perm[:-1][tied & same_sign])


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("spread", [1e-12, 1e-10, 1e-3])
def test_float64_near_ties_are_sorted_exactly(backend, reg, spread):
    """Entries of 1 + spread·N(0, 1) agree in all but their last bits, where the float64 sort keys are truncated:
    the kernel finishes the sort (merge sort at 1e-12, where the keys leave long runs unsorted; insertion sort at
    1e-10), so a strength below every gap still gives the hard ranks, ties averaged."""
    theta = 1 + spread * np.random.default_rng(7).normal(size=(2, 2000))
    rank = refefl.soft_rank(theta, strength=1e-19, regularization=reg, backend=backend)
    assert_close(rank, scipy.stats.rankdata(theta, axis=1))


@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("strength", [1e-3, 1.0])
def test_kernel_accepts_any_order(reg, strength):
    """The row kernel returns the stable sort of whatever order it gets (here random): both twins alike."""
    rng = np.random.default_rng(11)
    x = np.round(rng.normal(size=(3, 500)), 1)
    rho = np.arange(500, 0, -1.0)[None, :]
    results = []
    name = "projection_permutahedron_rows"
    for kernel in [_backend.TWINS[name], _backend.ext_kernel(name)]:
        order = np.argsort(rng.random(x.shape), axis=1)
        out, starts, n_blocks = np.empty_like(x), np.empty((3, 501), np.intp), np.empty(3, np.intp)
        kernel(x, order, np.log(rho) if reg == "kl" else rho, strength, reg == "kl", out, starts, n_blocks)
        assert np.all(np.diff(np.take_along_axis(x, order, axis=1), axis=1) <= 0)
        results.append(out)
    assert_close(results[0], results[1])
    rank = refefl.soft_rank(x, strength=strength, regularization=reg)
    assert_close(results[0], np.log(rank) if reg == "kl" else rank)  # the kernel returns log μ for "kl"


@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
@pytest.mark.parametrize("strength", [0.05, 0.5, 5.0])
def test_entropic_kernel_paths_agree_with_numpy(strength):
    """z = θ/ε spreads over 3000, 300 and 30: the compiled entropic PAV runs relative to each block's first entry
    (first case) or as a weighted Euclidean PAV of e^{z − z_0}/e^{ℓ − ℓ_0} (the others); both match NumPy."""
    rng = np.random.default_rng(2)
    theta, v = 25 * rng.normal(size=(4, 200)), rng.normal(size=(4, 200))
    opts = dict(strength=strength, regularization="kl")
    assert_close(refefl.soft_rank(theta, backend="ext", **opts), refefl.soft_rank(theta, backend="numpy", **opts))
    assert_close(soft_rank_jvp(theta, v, backend="ext", **opts), soft_rank_jvp(theta, v, backend="numpy", **opts))


@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reg", REGS)
def test_backends_agree_on_any_layout(reg, dtype):
    """Strided, read-only, Fortran-ordered input along a middle axis: "ext" and "numpy" agree for every function."""
    rng = np.random.default_rng(5)
    theta = np.asfortranarray(rng.normal(size=(3, 40, 4)).astype(dtype))
    theta.setflags(write=False)
    view, w = theta[:, ::2], rng.uniform(0.5, 3, 20).astype(dtype)
    v = rng.normal(size=view.shape).astype(dtype)
    soft = dict(regularization=reg, axis=1, strength=0.3, direction="descending")
    projection = dict(regularization=reg, axis=1)
    calls = [(refefl.soft_rank, (view,), soft), (refefl.soft_sort, (view,), soft), (soft_rank_jvp, (view, v), soft),
             (soft_sort_jvp, (view, v), soft), (refefl.projection_permutahedron, (view, w), projection),
             (projection_permutahedron_jvp, (view, w, v), dict(projection, v_w=w[::-1]))]
    for fun, args, kwargs in calls:
        got, want = fun(*args, backend="ext", **kwargs), fun(*args, backend="numpy", **kwargs)
        assert got.dtype == want.dtype == dtype
        assert_close(got, want, scale=10, err_msg=fun.__name__)


# -- bad input ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [[1.0, np.nan], [1.0, np.inf], [1.0, -np.inf], []])
def test_non_finite_or_empty_input_is_an_error(theta):
    for fun in [refefl.soft_rank, refefl.soft_sort]:
        with pytest.raises(ValueError, match="theta"):
            fun(np.asarray(theta, dtype=float))
    with pytest.raises(ValueError, match="z"):
        refefl.projection_permutahedron(np.asarray(theta, dtype=float), np.ones(len(theta)))


@pytest.mark.parametrize("strength", [0.0, -1.0, np.inf, np.nan])
def test_bad_strength(strength):
    with pytest.raises(ValueError, match="strength"):
        refefl.soft_rank([1.0, 2.0], strength=strength)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"regularization": "l1"}, "regularization"), ({"direction": "up"}, "direction"), ({"axis": 2}, "axis")],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        refefl.soft_sort([1.0, 2.0], **kwargs)


def test_bad_w_and_tangents():
    with pytest.raises(ValueError, match="w must have shape"):
        refefl.projection_permutahedron([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        refefl.projection_permutahedron([1.0, 2.0], [1.0, 0.0], regularization="kl")
    with pytest.raises(ValueError, match="w"):
        refefl.projection_permutahedron([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="shape"):
        soft_rank_jvp([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="v"):
        soft_sort_jvp([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(TypeError):
        refefl.soft_rank(np.array([1j, 2j]))
