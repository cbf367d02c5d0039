"""Box regularizers on [0, 1]^k: binary negentropy (sigmoid, Σ softplus) and half squared norm (clip, Huber).

docs/fenchel_young.md §2 reference values, closed forms of Ω and Ω*, the logistic loss, JVPs vs central differences, extreme
magnitudes without warnings, ``-inf`` scores, float32. Generic Fenchel-Young properties: test_fenchel_young.py.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refefl
from refefl.testing import assert_close, directional_derivative
from strategies import vectors

THETA = np.array([1.0, -2.0, 0.5])
Y = np.array([1.0, 0.0, 1.0])


def sigmoid(t):
    return 1 / (1 + np.exp(-t))


def huber(t):
    """Conjugate of ½y² on [0, 1], piecewise: 0, t²/2, t − ½."""
    return np.where(t <= 0, 0.0, np.where(t >= 1, t - 0.5, t * t / 2))


def test_binary_entropy_reference_values():
    """docs/fenchel_young.md §2: bilinear + binary negentropy, θ = [1, −2, 0.5], y = [1, 0, 1]."""
    loss = refefl.FenchelYoungLoss(refefl.regularizer("binary_entropy"))
    assert loss.value(THETA, Y) == pytest.approx(0.9142667, abs=5e-8)
    assert_close(loss.grad(THETA, Y), sigmoid(THETA) - Y)
    np.testing.assert_allclose(loss.grad(THETA, Y), [-0.268941, 0.119203, -0.377541], atol=5e-7)


def test_box_squared_reference_values():
    """docs/fenchel_young.md §2: bilinear + ½‖·‖² on the box, same θ and y: ŷ = [1, 0, 0.5], L = 0.125."""
    omega = refefl.regularizer("box_squared")
    np.testing.assert_array_equal(omega.predict(THETA), [1, 0, 0.5])
    assert_close(refefl.FenchelYoungLoss(omega).value(THETA, Y), 0.125)


@given(vectors(1, 12, bound=30.0), st.data())
def test_binary_entropy_loss_is_the_logistic_loss(theta, data):
    """For y ∈ {0, 1}^k: L = Σ softplus(θ) − ⟨θ, y⟩ = −Σ y log σ(θ) + (1 − y) log σ(−θ)."""
    y = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=theta.size, max_size=theta.size)))
    loss = refefl.FenchelYoungLoss(refefl.regularizer("binary_entropy")).value(theta, y)
    cross_entropy = -np.sum(y * np.log(sigmoid(theta)) + (1 - y) * np.log(sigmoid(-theta)))
    assert_close(loss, cross_entropy, scale=1e3)


@given(vectors(1, 12, bound=50.0))
def test_conjugates_closed_forms(theta):
    assert_close(refefl.regularizer("binary_entropy").conjugate(theta), np.log1p(np.exp(theta)).sum(), scale=100)
    assert_close(refefl.regularizer("box_squared").conjugate(theta), huber(theta).sum(), scale=100)


@given(vectors(1, 12, bound=0.999).map(lambda v: (v + 1) / 2))
def test_values_closed_forms(y):
    expected = np.sum(y * np.log(y) + (1 - y) * np.log(1 - y))
    assert_close(refefl.regularizer("binary_entropy").value(y), expected, scale=100)
    assert_close(refefl.regularizer("box_squared").value(y), 0.5 * y @ y)


def test_binary_entropy_value_at_the_vertices_and_the_centre():
    """0 log 0 = 0: Ω(vertex) = 0 with no warning, Ω(½) = −log 2 per coordinate; targets within the domain
    tolerance outside the box count as the nearest face."""
    omega = refefl.regularizer("binary_entropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert omega.value([0.0, 1.0, 1.0]) == 0
        assert_close(omega.value([0.5, 0.0, 0.5]), -2 * np.log(2))
        assert omega.value([-1e-12, 1 + 1e-12]) == 0
    with pytest.raises(ValueError, match="domain"):
        omega.value([0.5, 1.5])


@given(vectors(1, 12, bound=20.0), st.data())
def test_binary_entropy_jvp_matches_finite_differences(theta, data):
    v = data.draw(vectors(theta.size, theta.size, bound=1.0), label="v")
    omega = refefl.regularizer("binary_entropy")
    fd = directional_derivative(omega.predict, theta, v)
    np.testing.assert_allclose(omega.jvp(theta, v), fd, rtol=1e-6, atol=1e-9)


OFF_KINKS = st.floats(-3, 3).filter(lambda t: min(abs(t), abs(t - 1)) > 1e-5)


@given(hnp.arrays(np.float64, st.integers(1, 12), elements=OFF_KINKS), st.data())
def test_box_squared_jvp_matches_finite_differences_off_kinks(theta, data):
    v = data.draw(vectors(theta.size, theta.size, bound=1.0), label="v")
    omega = refefl.regularizer("box_squared")
    fd = directional_derivative(omega.predict, theta, v)
    np.testing.assert_allclose(omega.jvp(theta, v), fd, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["binary_entropy", "box_squared"])
@pytest.mark.parametrize("magnitude, dtype", [(1e300, np.float64), (1e8, np.float32)])
def test_extreme_magnitudes_without_warnings(name, magnitude, dtype):
    omega = refefl.regularizer(name)
    loss = refefl.FenchelYoungLoss(omega)
    theta = (np.array([1.0, -1.0, 0.25, -0.5]) * magnitude).astype(dtype)
    y = np.array([0.0, 1.0, 1.0, 0.5], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(omega.predict(theta), [1, 0, 1, 0])
        np.testing.assert_array_equal(omega.jvp(theta, np.ones_like(theta)), 0)
        conj = omega.conjugate(theta)
        assert conj.dtype == dtype
        assert_close(conj, np.float64(1.25 * magnitude), dtype=dtype)  # Σ over θ_i > 0 of θ_i (− ½ for the box)
        value = loss.value(theta, y)
        assert np.isfinite(value) and value > 0


@pytest.mark.parametrize("name", ["binary_entropy", "box_squared"])
def test_neg_inf_scores(name):
    """A score of −inf: ŷ_i = 0, no contribution to Ω*, a zero Jacobian row; the loss is +inf only if y_i > 0."""
    omega = refefl.regularizer(name)
    loss = refefl.FenchelYoungLoss(omega)
    theta = np.array([0.3, -np.inf, 0.8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert omega.predict(theta)[1] == 0 and omega.jvp(theta, np.ones(3))[1] == 0
        assert_close(omega.conjugate(theta), omega.conjugate(theta[[0, 2]]))
        assert_close(loss.value(theta, [1.0, 0.0, 0.0]), loss.value(theta[[0, 2]], [1.0, 0.0]))
        assert loss.value(theta, [1.0, 0.5, 0.0]) == np.inf


@pytest.mark.parametrize("name", ["binary_entropy", "box_squared"])
def test_float32_kept(name):
    omega = refefl.regularizer(name)
    theta = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    y = omega.predict(theta)
    for result in (y, omega.jvp(theta, theta), omega.conjugate(theta), omega.value(y)):
        assert result.dtype == np.float32
    assert_close(y, omega.predict(theta.astype(np.float64)), dtype=np.float32)
    assert_close(omega.conjugate(theta), omega.conjugate(theta.astype(np.float64)), dtype=np.float32)
