"""Permutahedron regularizers (PermSquared, PermEntropy): the w parameter, domain, value, conjugate, JVP, registry.

The generic Fenchel-Young properties shared by every regularizer live in test_fenchel_young.py; here are the
facts specific to the permutahedron.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import refefl
from refefl.regularizers import REGULARIZERS, PermEntropy, PermSquared, regularizer
from refefl.testing import assert_close, directional_derivative

CLASSES = [PermSquared, PermEntropy]
seeds = st.integers(0, 2**32 - 1)


def _point_in_polytope(rng, w, n_vertices=4):
    """A random convex combination of random permutations of w."""
    weights = rng.dirichlet(np.ones(n_vertices))
    return sum(c * rng.permutation(w) for c in weights)


def test_registry():
    assert REGULARIZERS["perm_squared"] is PermSquared
    assert REGULARIZERS["perm_entropy"] is PermEntropy
    omega = regularizer("perm_entropy", w=[1.0, 2.0, 4.0])
    assert isinstance(omega, PermEntropy)
    np.testing.assert_array_equal(omega.w, [1.0, 2.0, 4.0])
    assert regularizer("perm_squared").w is None


@pytest.mark.parametrize("cls", CLASSES)
def test_default_w_is_rho_for_every_length(cls):
    """w=None: one object serves rows of any length k with ρ = (k, …, 1); ŷ(θ/ε) is the ascending soft rank."""
    omega, reg = cls(), "kl" if cls is PermEntropy else "l2"
    for k in [1, 3, 6]:
        theta = np.random.default_rng(k).normal(size=(2, k))
        assert_close(omega.predict(theta / 0.3), refefl.soft_rank(theta, strength=0.3, regularization=reg))
        assert omega.in_domain(np.arange(k, 0, -1.0)[::-1])
        assert not omega.in_domain(np.full(k, k + 1.0))


@pytest.mark.parametrize("cls", CLASSES)
def test_fixed_w_length_must_match(cls):
    omega = cls(w=[3.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="length"):
        omega.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="length"):
        omega.value(np.ones(2))


@pytest.mark.parametrize(
    "cls, w, match",
    [(PermSquared, [[1.0, 2.0]], "1-D"), (PermSquared, [1.0, np.inf], "finite"), (PermEntropy, [1.0, 0.0], "positive"),
     (PermEntropy, [1.0, -2.0], "positive"), (PermSquared, [], "non-empty")],
)
def test_bad_w(cls, w, match):
    with pytest.raises(ValueError, match=match):
        cls(w=w)


@pytest.mark.parametrize("cls", CLASSES)
def test_neg_inf_scores_are_rejected(cls):
    with pytest.raises(ValueError, match="-inf"):
        cls().predict([0.0, -np.inf, 1.0])


@given(seeds, st.sampled_from(CLASSES))
def test_domain_by_majorization(seed, cls):
    """Convex combinations of permutations of w are inside; breaking the sum or the top entry puts them outside."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    w = rng.uniform(0.5, 3, k)
    omega = cls(w=w)
    y = _point_in_polytope(rng, w)
    assert omega.in_domain(y)
    assert not omega.in_domain(y + 1e-3)  # total too large
    spread = y.copy()
    spread[np.argmax(y)] += w.max() - y.max() + 1e-3  # top entry above max w ...
    spread[np.argmin(y)] -= w.max() - y.max() + 1e-3  # ... with the total kept
    assert not omega.in_domain(spread)


def test_value_closed_forms():
    y = np.array([2.0, 1.0, 3.0])
    assert_close(PermSquared().value(y), 7.0)
    assert_close(PermEntropy().value(y), 2 * np.log(2) + 3 * np.log(3) - 6)
    with pytest.raises(ValueError, match="outside"):
        PermSquared().value([3.0, 3.0, 0.0])


@given(seeds, st.sampled_from(CLASSES))
def test_conjugate_dominates_every_point_of_the_polytope(seed, cls):
    """Ω*(θ) ≥ ⟨θ, y⟩ − Ω(y) for y ∈ P(w), with equality at ŷ, and the vertices never beat ŷ."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 6))
    w, theta = rng.uniform(0.5, 3, k), rng.normal(size=k) * 2
    omega = cls(w=w)
    conj = omega.conjugate(theta)
    y_hat = omega.predict(theta)
    assert_close(conj, theta @ y_hat - omega.value(y_hat))
    candidates = [_point_in_polytope(rng, w) for _ in range(5)] + [w[list(p)] for p in itertools.permutations(range(k))]
    for y in candidates:
        assert theta @ y - omega.value(y) <= conj + 1e-10 * (1 + abs(conj))


@given(seeds, st.sampled_from(CLASSES))
def test_jvp_matches_finite_differences_and_is_symmetric(seed, cls):
    """∂ŷ = ∇²Ω* is symmetric; JVPs agree with central differences in float64."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 7))
    omega = cls(w=rng.uniform(0.5, 3, k)) if seed % 2 else cls()
    theta, u, v = rng.normal(size=(3, k)) * 2
    fd = directional_derivative(omega.predict, theta, v)
    np.testing.assert_allclose(omega.jvp(theta, v), fd, rtol=1e-6, atol=1e-7)
    assert_close(u @ omega.jvp(theta, v), v @ omega.jvp(theta, u))


@pytest.mark.parametrize("cls", CLASSES)
def test_float32_kept_and_batched(cls):
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(3, 2, 5)).astype(np.float32)
    omega = cls()
    y_hat = omega.predict(theta)
    assert y_hat.dtype == np.float32 and omega.jvp(theta, theta).dtype == np.float32
    assert omega.in_domain(y_hat).all()
    assert_close(y_hat[1, 1], omega.predict(theta[1, 1]))
    loss = refefl.FenchelYoungLoss(omega)
    assert_close(loss.value(theta, y_hat), np.zeros((3, 2)), dtype=np.float32, scale=10)
