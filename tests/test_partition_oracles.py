"""Exact log-partitions and Birkhoff marginals against independent enumeration (itertools, scipy's logsumexp),
closed forms, invariances, finite differences, extreme and float32 input, and bad input."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import logsumexp

from refefl.partition import (birkhoff_log_partition, birkhoff_marginals, enumeration_log_partition,
                              pairwise_log_partition, permutahedron_log_partition, unary_log_partition)
from refefl.testing import assert_close, central_difference
from tests.strategies import huge_offsets


def floats(bound=5.0, dtype=np.float64):
    return st.floats(-bound, bound, allow_nan=False, width=np.dtype(dtype).itemsize * 8)


def arrays(shape, bound=5.0, dtype=np.float64):
    return hnp.arrays(dtype, shape, elements=floats(bound, dtype))


def symmetric_zero_diagonal(a):
    U = (a + np.swapaxes(a, -1, -2)) / 2
    idx = np.arange(a.shape[-1])
    U[..., idx, idx] = 0
    return U


# -- independent references: plain loops over itertools ----------------------------------------------------------
def binary_states(k):
    return np.array(list(itertools.product([0, 1], repeat=k)), dtype=float)


def rankings(k):
    return list(itertools.permutations(range(k)))


def reference_birkhoff(Theta):
    """log (1/k!) Σ_σ exp Σ_r Θ[σ_r, r] and the marginals p(σ_r = i), for one (k, k) matrix."""
    k = Theta.shape[0]
    sigmas = rankings(k)
    g = np.array([sum(Theta[s[r], r] for r in range(k)) for s in sigmas])
    p = np.exp(g - logsumexp(g))
    marginals = np.zeros((k, k))
    for weight, s in zip(p, sigmas):
        marginals[list(s), range(k)] += weight
    return logsumexp(g) - math.log(len(sigmas)), marginals


def reference_permutahedron(theta):
    k = theta.size
    g = [sum(theta[s[r]] * (k - r) for r in range(k)) for s in rankings(k)]
    return logsumexp(g) - math.log(math.factorial(k))


# -- sets -----------------------------------------------------------------------------------------------------
@given(u=st.integers(1, 8).flatmap(lambda k: arrays((2, k), bound=20.0)))
def test_unary_closed_form_is_enumeration(u):
    states = binary_states(u.shape[1])
    expected = logsumexp(u @ states.T, axis=1) - u.shape[1] * math.log(2)
    assert_close(unary_log_partition(u), expected, scale=100)


@given(u=st.integers(1, 6).flatmap(lambda k: arrays((3, k))), a=st.integers(1, 6).flatmap(lambda k: arrays((k, k))))
def test_pairwise_is_enumeration_and_unary_without_couplings(u, a):
    k = min(u.shape[1], a.shape[0])
    u, U = u[:, :k], np.broadcast_to(symmetric_zero_diagonal(a[:k, :k]), (3, k, k))
    states = binary_states(k)
    g = u @ states.T + 0.5 * np.einsum("sk,nkl,sl->ns", states, U, states)
    assert_close(pairwise_log_partition(u, U), logsumexp(g, axis=1) - k * math.log(2), scale=100)
    assert_close(pairwise_log_partition(u, np.zeros_like(U)), unary_log_partition(u), scale=100)


def test_unary_extremes_and_small_scores():
    # log((1 + e^u) / 2) -> u/2 near 0: relative accuracy, not the absolute rounding of log 2
    assert_close(unary_log_partition([1e-20, -3e-30]), 0.5e-20 - 1.5e-30, scale=1)
    big = unary_log_partition([[1e300, -1e300, 0.0], [700.0, 800.0, -900.0]])
    assert_close(big, [1e300, 1500 - 3 * math.log(2) + math.log1p(math.exp(-700)) + math.log1p(math.exp(-800))])
    u32 = np.float32([[1e30, -1e30, 0.5]])
    out = unary_log_partition(u32)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert_close(out, [1e30], dtype=np.float32)


@given(offset=huge_offsets(), u=arrays(4))
def test_unary_shift_of_one_huge_label(offset, u):
    # one label far positive contributes its score (minus log 2 and a term below its rounding), another far
    # negative contributes -log 2: the rest of the sum is unaffected
    shifted = np.concatenate([u, [offset, -offset]])
    expected = unary_log_partition(u) + offset - 2 * math.log(2)
    np.testing.assert_allclose(unary_log_partition(shifted), expected, rtol=1e-15)


# -- permutations ---------------------------------------------------------------------------------------------
@given(Theta=st.integers(1, 5).flatmap(lambda k: arrays((k, k))))
def test_birkhoff_log_partition_and_marginals_are_enumeration(Theta):
    log_z, marginals = reference_birkhoff(Theta)
    assert_close(birkhoff_log_partition(Theta), log_z, scale=100)
    assert_close(birkhoff_marginals(Theta), marginals, scale=100)


@given(theta=st.integers(1, 6).flatmap(lambda k: arrays((k,))))
def test_permutahedron_log_partition_is_enumeration(theta):
    assert_close(permutahedron_log_partition(theta), reference_permutahedron(theta), scale=100)


def test_known_values():
    k = 5
    assert_close(birkhoff_log_partition(np.zeros((k, k))), 0.0)
    a = np.arange(k, dtype=float)  # a row-constant Θ gives every ranking the same energy Σ_i a_i
    assert_close(birkhoff_log_partition(np.repeat(a[:, None], k, axis=1)), a.sum())
    assert_close(permutahedron_log_partition(np.full(k, 0.3)), 0.3 * k * (k + 1) / 2)
    x, y = 0.7, -1.1  # k = 2: two rankings, energies 2x + y and x + 2y
    assert_close(permutahedron_log_partition([x, y]), math.log((math.exp(2 * x + y) + math.exp(x + 2 * y)) / 2))
    # Θ = log of the all-ones matrix scaled: per(c·J) = k! c^k
    assert_close(birkhoff_log_partition(np.full((k, k), math.log(3.0))), k * math.log(3.0))
    assert_close(birkhoff_marginals(np.full((k, k), 2.0)), np.full((k, k), 1 / k))
    assert_close(birkhoff_marginals(np.array([[4.0]])), [[1.0]])


@given(Theta=st.integers(1, 8).flatmap(lambda k: arrays((2, k, k), bound=10.0)),
       shifts=st.tuples(floats(), floats()))
def test_birkhoff_marginals_doubly_stochastic_and_shift_invariant(Theta, shifts):
    marginals = birkhoff_marginals(Theta)
    assert (marginals >= 0).all()
    assert_close(marginals.sum(axis=-1), np.ones(Theta.shape[:2]), scale=1e3)
    assert_close(marginals.sum(axis=-2), np.ones(Theta.shape[:2]), scale=1e3)
    k = Theta.shape[-1]
    row, col = np.linspace(-1, 1, k) * shifts[0], np.linspace(0, 2, k) * shifts[1]
    moved = Theta + row[:, None] + col[None, :]  # every ranking gains Σ row + Σ col
    assert_close(birkhoff_log_partition(moved), birkhoff_log_partition(Theta) + row.sum() + col.sum(), scale=1e3)
    assert_close(birkhoff_marginals(moved), marginals, scale=1e3)


@settings(max_examples=20)  # one log-permanent per coordinate and side
@given(Theta=st.integers(1, 6).flatmap(lambda k: arrays((k, k), bound=3.0)))
def test_birkhoff_marginals_are_the_gradient(Theta):
    numeric = central_difference(birkhoff_log_partition, Theta)
    np.testing.assert_allclose(birkhoff_marginals(Theta), numeric, rtol=1e-6, atol=1e-8)


def test_birkhoff_wide_range_and_float32():
    rng = np.random.default_rng(7)
    Theta = rng.normal(size=(6, 6)) * 300
    marginals = birkhoff_marginals(Theta)
    assert np.isfinite(marginals).all()
    assert_close(marginals.sum(axis=0), np.ones(6), scale=1e3)
    assert_close(birkhoff_log_partition(Theta), reference_birkhoff(Theta)[0], scale=10)
    T32 = rng.normal(size=(2, 4, 4)).astype(np.float32)
    for out in (birkhoff_log_partition(T32), birkhoff_marginals(T32), permutahedron_log_partition(T32[:, 0])):
        assert out.dtype == np.float32
    assert_close(birkhoff_marginals(T32), birkhoff_marginals(T32.astype(np.float64)), dtype=np.float32)


def test_batches_over_leading_axes():
    rng = np.random.default_rng(3)
    Theta, theta = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 4))
    assert birkhoff_log_partition(Theta).shape == (2, 3)
    assert birkhoff_marginals(Theta).shape == (2, 3, 4, 4)
    assert permutahedron_log_partition(theta).shape == (2, 3)
    assert unary_log_partition(theta).shape == (2, 3)
    for i, j in itertools.product(range(2), range(3)):
        assert_close(birkhoff_marginals(Theta)[i, j], birkhoff_marginals(Theta[i, j]))
        assert_close(permutahedron_log_partition(theta)[i, j], reference_permutahedron(theta[i, j]))


@given(g=arrays(st.integers(1, 20), bound=50.0), dead=st.integers(0, 19))
def test_enumeration_log_partition_with_impossible_states(g, dead):
    expected = logsumexp(g) - math.log(g.size)
    assert_close(enumeration_log_partition(g), expected, scale=10)
    if g.size > 1:
        g = g.copy()
        g[dead % g.size] = -np.inf
        assert_close(enumeration_log_partition(g), logsumexp(g) - math.log(g.size), scale=10)


def test_inputs_are_not_modified():
    Theta = np.arange(9.0).reshape(3, 3) / 9
    u, U = np.array([0.5, -1.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    copies = [x.copy() for x in (Theta, u, U)]
    birkhoff_marginals(Theta), pairwise_log_partition(u, U), unary_log_partition(u)
    for x, c in zip((Theta, u, U), copies):
        np.testing.assert_array_equal(x, c)


@pytest.mark.parametrize("call,match", [
    (lambda: unary_log_partition([0.0, np.nan]), "u must be finite"),
    (lambda: unary_log_partition([0.0, np.inf]), "u must be finite"),
    (lambda: unary_log_partition(np.zeros((2, 0))), "u must have a non-empty last axis"),
    (lambda: enumeration_log_partition([np.nan, 0.0]), "g_states contains NaN"),
    (lambda: enumeration_log_partition([-np.inf, -np.inf]), "g_states has a row whose entries are all -inf"),
    (lambda: birkhoff_log_partition(np.zeros((3, 4))), "Theta must be square"),
    (lambda: birkhoff_log_partition(np.zeros(3)), "Theta must have at least 2 dimension"),
    (lambda: birkhoff_log_partition(np.zeros((25, 25))), "Theta has k = 25 items; .* k <= 24"),
    (lambda: birkhoff_log_partition([[0.0, -np.inf], [0.0, 0.0]]), "Theta must be finite"),
    (lambda: birkhoff_marginals(np.zeros((17, 17))), "Theta has k = 17 items; .* k <= 16"),
    (lambda: permutahedron_log_partition(np.zeros(25)), "theta has k = 25 items"),
    (lambda: permutahedron_log_partition([0.0, np.nan]), "theta must be finite"),
    (lambda: pairwise_log_partition(np.zeros(17), np.zeros((17, 17))), "u: .* k <= 16"),
    (lambda: pairwise_log_partition(np.zeros(2), np.zeros((3, 3))), "U must have shape"),
    (lambda: pairwise_log_partition(np.zeros(2), [[0.0, 1.0], [2.0, 0.0]]), "U must be symmetric"),
    (lambda: pairwise_log_partition(np.zeros(2), np.eye(2)), "U must have a zero diagonal"),
    (lambda: pairwise_log_partition(np.zeros(2), [[0.0, np.nan], [np.nan, 0.0]]), "U must be finite"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
