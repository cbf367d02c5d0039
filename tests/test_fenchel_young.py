"""Fenchel-Young properties that every registered regularizer Ω must satisfy (docs/fenchel_young.md §1).

For each Ω: the FY inequality Ω(y) + Ω*(θ) ≥ ⟨θ, y⟩ with equality at ŷ; L ≥ 0 and L = 0 at y = ŷ(θ); the
strong-convexity lower bound L ≥ (μ/2)‖y − ŷ‖²; ∇_θ L = ŷ − y and predict = ∇Ω* against central differences;
jvp against finite differences of predict wherever predict is differentiable; ŷ feasible; permutation
equivariance; batched = row by row; float32 kept; extreme magnitudes stay finite; inputs untouched.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refefl
from refefl.regularizers import REGULARIZERS, regularizer
from refefl.testing import assert_close

# (name, params, μ: strong convexity modulus w.r.t. the Euclidean norm on the domain, or 0 if none)
CASES = [
    ("shannon", {}, 1.0),
    ("sparsemax", {}, 1.0),
    ("tsallis", {"alpha": 1.5}, 1.0),
    ("tsallis", {"alpha": 1.25}, 1.0),
    ("tsallis", {"alpha": 3.0}, 0.0),
    ("binary_entropy", {}, 4.0),
    ("box_squared", {}, 1.0),
    ("capped_squared", {"s": 2}, 1.0),
    ("capped_entropy", {"s": 2}, 4.0),
    ("perm_squared", {}, 1.0),
    ("perm_entropy", {}, None),  # μ = 1 / max(w) = 1/k on P(ρ), set per draw
]
PRESENT = [case for case in CASES if case[0] in REGULARIZERS]
IDS = [f"{name}{''.join(f'-{k}={v}' for k, v in params.items())}" for name, params, _ in PRESENT]


@pytest.fixture(params=PRESENT, ids=IDS)
def case(request):
    name, params, mu = request.param
    return regularizer(name, **params), mu


def test_registry_is_complete():
    expected = {"shannon", "sparsemax", "tsallis", "binary_entropy", "box_squared", "capped_squared",
                "capped_entropy", "perm_squared", "perm_entropy"}
    assert expected <= set(REGULARIZERS)


@st.composite
def problems(draw, allow_neg_inf=False):
    """θ (possibly with some -inf), a target y = ŷ(θ') in the domain, and a direction v; k in [3, 8]."""
    k = draw(st.integers(3, 8))
    floats = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
    theta = draw(hnp.arrays(np.float64, k, elements=floats))
    theta_target = draw(hnp.arrays(np.float64, k, elements=floats)) * draw(st.sampled_from([1.0, 10.0]))
    direction = draw(hnp.arrays(np.float64, k, elements=st.floats(-1, 1, allow_nan=False)))
    if allow_neg_inf and draw(st.booleans()):
        theta = theta.copy()
        theta[draw(st.integers(0, k - 1))] = -np.inf
    return theta, theta_target, direction


def _target(omega, theta_target):
    return omega.predict(theta_target)


@given(problems(allow_neg_inf=True))
def test_fenchel_young_inequality_and_equality(case, problem):
    omega, _ = case
    theta, theta_target, _ = problem
    if not omega.allow_neg_inf:
        assume(np.isfinite(theta).all())
    y, y_hat = _target(omega, theta_target), omega.predict(theta)
    conj = omega.conjugate(theta)
    finite = np.isfinite(theta)
    scale = 1 + np.abs(theta[finite]).max()
    # at ŷ: equality; elsewhere: inequality (both computed over supports, so -inf scores are harmless)
    gap_hat = omega.value(y_hat) + conj - theta[finite] @ y_hat[finite]
    assert abs(gap_hat) <= 1e-9 * scale
    if np.all(y[~finite] == 0):
        assert omega.value(y) + conj - theta[finite] @ y[finite] >= -1e-9 * scale


@given(problems(allow_neg_inf=True))
def test_loss_nonnegative_zero_at_prediction_and_strongly_convex(case, problem):
    omega, mu = case
    theta, theta_target, _ = problem
    if not omega.allow_neg_inf:
        assume(np.isfinite(theta).all())
    loss = refefl.FenchelYoungLoss(omega)
    y, y_hat = _target(omega, theta_target), omega.predict(theta)
    value = loss.value(theta, y)
    assert value >= 0
    scale = 1 + np.abs(theta[np.isfinite(theta)]).max()
    assert loss.value(theta, y_hat) <= 1e-9 * scale
    mu = 1.0 / theta.size if mu is None else mu
    if np.isfinite(value):
        assert value >= mu / 2 * np.sum((y - y_hat) ** 2) - 1e-9 * scale
    else:  # +inf only when y puts mass on an impossible coordinate
        assert np.any(y[np.isneginf(theta)] > 0)


def _assert_gradient_of_convex(f, theta, v, derivative, eps=1e-6):
    """⟨∇f, v⟩ equals the central difference, within rounding plus the convexity bound.

    For convex f the one-sided differences bracket the directional derivative, fwd ≥ ⟨∇f, v⟩ ≥ bwd, so the
    central difference (fwd + bwd)/2 is within (fwd − bwd)/2 of it: a rigorous allowance where ∇f has a kink
    within ±ε (e.g. clip at 0 for the box), and ~ε·‖∇²f‖ elsewhere.
    """
    f0 = f(theta)
    forward, backward = (f(theta + eps * v) - f0) / eps, (f0 - f(theta - eps * v)) / eps
    rounding = 1e-7 * (1 + abs(f0))
    assert backward - rounding <= derivative <= forward + rounding
    np.testing.assert_allclose(derivative, (forward + backward) / 2, atol=rounding + (forward - backward) / 2)


@given(problems())
def test_gradient_and_conjugate_gradient_match_finite_differences(case, problem):
    """∇_θ L = ŷ − y and ∇Ω* = ŷ (both functions are convex in θ)."""
    omega, _ = case
    theta, theta_target, v = problem
    loss = refefl.FenchelYoungLoss(omega)
    y = _target(omega, theta_target)
    _assert_gradient_of_convex(lambda t: float(loss.value(t, y)), theta, v, loss.grad(theta, y) @ v)
    _assert_gradient_of_convex(lambda t: float(omega.conjugate(t)), theta, v, omega.predict(theta) @ v)


@given(problems())
def test_jvp_matches_finite_differences_where_differentiable(case, problem):
    """Where the one-sided differences agree (no kink of ŷ within ±ε), jvp must equal them."""
    omega, _ = case
    theta, _, v = problem
    eps = 1e-6
    y0 = omega.predict(theta)
    forward = (omega.predict(theta + eps * v) - y0) / eps
    backward = (y0 - omega.predict(theta - eps * v)) / eps
    assume(np.allclose(forward, backward, atol=1e-5))
    np.testing.assert_allclose(omega.jvp(theta, v), (forward + backward) / 2, rtol=1e-5, atol=1e-5)


@given(problems(allow_neg_inf=True), st.randoms(use_true_random=False))
def test_prediction_feasible_and_permutation_equivariant(case, problem, random):
    omega, _ = case
    theta = problem[0]
    if not omega.allow_neg_inf:
        theta = problem[1]
    y_hat = omega.predict(theta)
    assert omega.in_domain(y_hat)
    perm = np.array(random.sample(range(theta.size), theta.size))
    assert_close(omega.predict(theta[perm]), y_hat[perm], scale=100)


def test_batched_equals_row_by_row_and_inputs_untouched(case):
    omega, _ = case
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(2, 3, 6)) * 3
    theta.setflags(write=False)
    batched = omega.predict(theta)
    conj = omega.conjugate(theta)
    for index in np.ndindex(theta.shape[:-1]):
        assert_close(batched[index], omega.predict(theta[index]))
        assert_close(conj[index], omega.conjugate(theta[index]))
    # non-contiguous and Fortran-ordered views give the same answer
    assert_close(omega.predict(np.asfortranarray(theta)), batched)
    assert_close(omega.predict(theta[:, ::-1])[:, ::-1], batched)


@pytest.mark.parametrize("magnitude64, magnitude32", [(1e300, 1e8)])
def test_extreme_magnitudes_and_float32(case, magnitude64, magnitude32):
    omega, _ = case
    theta = np.array([0.3, -1.2, 0.9, 0.1, -0.4])
    y64 = omega.predict(theta)
    y32 = omega.predict(theta.astype(np.float32))
    assert y32.dtype == np.float32
    assert_close(y32, y64, dtype=np.float32)
    for value, dtype in ((magnitude64, np.float64), (magnitude32, np.float32)):
        huge = omega.predict((theta * value).astype(dtype))
        assert huge.dtype == dtype and np.isfinite(huge).all()
        assert omega.in_domain(huge)


def test_bad_inputs_raise(case):
    omega, _ = case
    loss = refefl.FenchelYoungLoss(omega)
    with pytest.raises(ValueError, match="NaN"):
        omega.predict([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"\+inf"):
        omega.predict([0.0, np.inf, 1.0])
    with pytest.raises(ValueError, match="non-empty"):
        omega.predict(np.zeros((2, 0)))
    with pytest.raises(TypeError):
        omega.predict(np.array([1 + 1j, 2, 3]))
    with pytest.raises(ValueError, match="shape"):
        loss.value(np.zeros(4), omega.predict(np.zeros(5)))
    with pytest.raises(ValueError, match="domain"):
        loss.value(np.zeros(4), np.full(4, 7.0))
