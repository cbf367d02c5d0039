"""Vector-Jacobian products of the permutahedron maps: the exact transposes of their JVPs, from the same blocks."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refefl
from refefl.projections import projection_permutahedron_jvp, projection_permutahedron_vjp
from refefl.projections import soft_rank_jvp, soft_rank_vjp, soft_sort_jvp, soft_sort_vjp
from refefl.testing import assert_close, directional_derivative
from strategies import vectors, with_ties

REGS = ["l2", "kl"]
DIRECTIONS = ["ascending", "descending"]
SOFT = [(refefl.soft_rank, soft_rank_jvp, soft_rank_vjp), (refefl.soft_sort, soft_sort_jvp, soft_sort_vjp)]
seeds = st.integers(0, 2**32 - 1)


def _jacobian_from_jvps(jvp, n):
    """J with column j = J e_j."""
    return np.stack([jvp(e) for e in np.eye(n)], axis=1)


def _jacobian_from_vjps(vjp, n):
    """J with row i = (Jᵀ e_i)ᵀ."""
    return np.stack([vjp(e) for e in np.eye(n)], axis=0)


# -- the transpose, entry by entry, with ties and on both backends ----------------------------------------------
@given(vectors(1, 8), st.floats(0.05, 20), st.sampled_from(REGS), st.sampled_from(DIRECTIONS), st.booleans())
def test_soft_vjps_are_the_transposed_jvps(backend, theta, strength, reg, direction, ties):
    theta = with_ties(theta) if ties else theta
    opts = dict(strength=strength, regularization=reg, direction=direction, backend=backend)
    for _, jvp, vjp in SOFT:
        forward = _jacobian_from_jvps(lambda e: jvp(theta, e, **opts), theta.size)
        reverse = _jacobian_from_vjps(lambda e: vjp(theta, e, **opts), theta.size)
        assert_close(reverse, forward, scale=1 + 1 / strength, err_msg=vjp.__name__)


@given(vectors(1, 8), st.sampled_from(REGS), st.booleans(), seeds)
def test_projection_vjp_is_the_transposed_jvp(backend, z, reg, ties, seed):
    z = with_ties(z) if ties else z
    w = np.random.default_rng(seed).uniform(0.2, 4.0, z.size)
    opts = dict(regularization=reg, backend=backend)
    n = z.size
    forward_z = _jacobian_from_jvps(lambda e: projection_permutahedron_jvp(z, w, e, **opts), n)
    forward_w = _jacobian_from_jvps(lambda e: projection_permutahedron_jvp(z, w, np.zeros(n), v_w=e, **opts), n)
    reverse_z = _jacobian_from_vjps(lambda e: projection_permutahedron_vjp(z, w, e, **opts)[0], n)
    reverse_w = _jacobian_from_vjps(lambda e: projection_permutahedron_vjp(z, w, e, **opts)[1], n)
    assert_close(reverse_z, forward_z)
    assert_close(reverse_w, forward_w)


@given(seeds, st.sampled_from(REGS), st.sampled_from(DIRECTIONS))
def test_vjps_match_finite_differences(seed, reg, direction):
    """⟨Jᵀu, v⟩ = ⟨u, (f(x + hv) − f(x − hv)) / 2h⟩ for random u, v (off the kinks, which random data avoid)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    theta, u, v = rng.normal(size=n) * 2, rng.normal(size=n), rng.normal(size=n)
    opts = dict(strength=float(rng.uniform(0.2, 3)), regularization=reg, direction=direction)
    for fun, _, vjp in SOFT:
        fd = directional_derivative(lambda x: fun(x, **opts), theta, v)
        np.testing.assert_allclose(vjp(theta, u, **opts) @ v, u @ fd, rtol=1e-6, atol=1e-7)
    w, v_w = rng.uniform(0.2, 4, n), rng.normal(size=n)
    z_bar, w_bar = projection_permutahedron_vjp(theta, w, u, regularization=reg)
    fd_z = directional_derivative(lambda x: refefl.projection_permutahedron(x, w, regularization=reg), theta, v)
    fd_w = directional_derivative(lambda x: refefl.projection_permutahedron(theta, x, regularization=reg), w, v_w)
    np.testing.assert_allclose(z_bar @ v + w_bar @ v_w, u @ (fd_z + fd_w), rtol=1e-6, atol=1e-7)


def test_kl_soft_sort_jacobian_is_not_symmetric(backend):
    """The VJP is a transpose, not the JVP reused: for "kl" soft sort they differ (and for "l2" they coincide
    only where the sorting permutation is its own inverse)."""
    theta = np.array([0.3, 2.0, 1.9, -1.0])
    opts = dict(regularization="kl", backend=backend)
    jac = _jacobian_from_jvps(lambda e: soft_sort_jvp(theta, e, **opts), 4)
    assert not np.allclose(jac, jac.T)
    assert_close(_jacobian_from_vjps(lambda e: soft_sort_vjp(theta, e, **opts), 4), jac)


# -- batching, axes, shared w, dtypes, inputs -----------------------------------------------------------------
@pytest.mark.parametrize("reg", REGS)
def test_batched_and_along_an_axis(backend, reg):
    rng = np.random.default_rng(3)
    theta, u = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    opts = dict(regularization=reg, backend=backend)
    for _, _, vjp in SOFT:
        rows = np.stack([vjp(t, r, **opts) for t, r in zip(theta, u)])
        assert_close(vjp(theta, u, **opts), rows)
        assert_close(vjp(theta.T, u.T, axis=0, **opts), rows.T)
    w = rng.uniform(0.5, 2.0, 5)
    per_row = [projection_permutahedron_vjp(z, w, r, **opts) for z, r in zip(theta, u)]
    z_bar, w_bar = projection_permutahedron_vjp(theta, w, u, **opts)
    assert_close(z_bar, np.stack([p[0] for p in per_row]))
    assert_close(w_bar, np.sum([p[1] for p in per_row], axis=0))  # a shared w gathers every row's cotangent
    w_rows = np.broadcast_to(w, theta.shape)
    z_rows, w_rows_bar = projection_permutahedron_vjp(theta, w_rows, u, **opts)
    assert w_rows_bar.shape == theta.shape
    assert_close(z_rows, z_bar)
    assert_close(w_rows_bar, np.stack([p[1] for p in per_row]))


@pytest.mark.parametrize("reg", REGS)
def test_float32_kept_and_inputs_untouched(backend, reg):
    rng = np.random.default_rng(4)
    theta, u, w = (rng.normal(size=(2, 6)).astype(np.float32) for _ in range(3))
    w = np.abs(w) + np.float32(0.5)
    copies = [a.copy() for a in (theta, u, w)]
    opts = dict(regularization=reg, backend=backend)
    for _, _, vjp in SOFT:
        got = vjp(theta, u, **opts)
        assert got.dtype == np.float32
        assert_close(got, vjp(theta.astype(np.float64), u.astype(np.float64), **opts), dtype=np.float32)
    z_bar, w_bar = projection_permutahedron_vjp(theta, w, u, **opts)
    assert z_bar.dtype == w_bar.dtype == np.float32
    for a, c in zip((theta, u, w), copies):
        np.testing.assert_array_equal(a, c)


def test_bad_cotangents_are_refused():
    theta = np.array([1.0, 2.0, 3.0])
    for _, _, vjp in SOFT:
        with pytest.raises(ValueError, match="u"):
            vjp(theta, np.ones(4))
        with pytest.raises(ValueError, match="u"):
            vjp(theta, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="u"):
        projection_permutahedron_vjp(theta, theta, np.ones((2, 3)))
    with pytest.raises(ValueError, match="w"):
        projection_permutahedron_vjp(theta, -theta, np.ones(3), regularization="kl")


# -- regularizers: the prediction map is a gradient, so its Jacobian is symmetric and the VJP is the JVP --------
REGULARIZER_CASES = [("shannon", {}), ("sparsemax", {}), ("tsallis", {"alpha": 1.5}), ("tsallis", {"alpha": 3.0}),
                     ("binary_entropy", {}), ("box_squared", {}), ("capped_squared", {"s": 2.0}),
                     ("capped_entropy", {"s": 2.0}), ("perm_squared", {}), ("perm_entropy", {})]


@pytest.mark.parametrize("name, params", REGULARIZER_CASES)
@given(seeds)
def test_regularizer_vjp_is_the_transposed_jvp(name, params, seed):
    """Entry by entry: (Jᵀ e_i)_j = (J e_j)_i, i.e. the JVP's Jacobian is symmetric, as ∇²Ω* must be."""
    omega = refefl.regularizers.regularizer(name, **params)
    theta = np.random.default_rng(seed).normal(size=5) * 2
    forward = _jacobian_from_jvps(lambda e: omega.jvp(theta, e), 5)
    reverse = _jacobian_from_vjps(lambda e: omega.vjp(theta, e), 5)
    assert_close(reverse, forward)
    assert_close(forward, forward.T)


def test_regularizer_vjp_refuses_bad_cotangents():
    omega = refefl.regularizers.regularizer("sparsemax")
    with pytest.raises(ValueError, match="u"):
        omega.vjp(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="u must be finite"):
        omega.vjp(np.zeros(3), np.array([0.0, np.inf, 0.0]))
