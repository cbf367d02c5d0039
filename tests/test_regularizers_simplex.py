"""Simplex regularizers (Shannon, sparsemax, Tsallis): closed forms, values, JVPs, domain, registry.

The generic Fenchel-Young properties shared by every regularizer live in test_fenchel_young.py; here are the
facts specific to the simplex maps.
"""
import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st

import refefl
from refefl.regularizers import REGULARIZERS, Regularizer, Shannon, SquaredSimplex, Tsallis, regularizer
from refefl.testing import assert_close, directional_derivative
from strategies import DTYPES, matrices, vectors

# α with 1/(α − 1) an integer ≥ 2 or α = 2: ŷ is smooth enough up to its kinks for central differences
SMOOTH_ALPHAS = [1.25, 4 / 3, 1.5, 2.0]
# other α: ŷ ~ u^{1/(α−1)} near the support boundary has an unbounded third derivative
ROUGH_ALPHAS = [1.75, 3.0]


def _kink_distance(theta, y_hat, alpha):
    r"""Distance in θ units from each score to the threshold: |z_i − τ|/(α − 1), z = (α − 1)(θ − max θ)."""
    z = (alpha - 1) * (theta - theta.max())
    support = y_hat > 0
    tau = np.mean(z[support] - y_hat[support] ** (alpha - 1))
    return np.abs(z - tau) / (alpha - 1)


def test_registry():
    assert REGULARIZERS["shannon"] is Shannon
    assert REGULARIZERS["sparsemax"] is SquaredSimplex
    assert REGULARIZERS["tsallis"] is Tsallis
    omega = regularizer("tsallis", alpha=1.7)
    assert isinstance(omega, Regularizer) and omega.alpha == 1.7
    assert regularizer("tsallis").alpha == 1.5
    assert repr(omega) == "Tsallis(alpha=1.7)"
    with pytest.raises(ValueError, match="alpha"):
        regularizer("tsallis", alpha=1.0)
    with pytest.raises(TypeError, match="alpha"):
        Tsallis(alpha="2")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_shannon_closed_forms(dtype, data):
    """ŷ = softmax, Ω* = logsumexp, and the closed-form Ω* equals the generic ⟨θ, ŷ⟩ − Ω(ŷ)."""
    theta = data.draw(matrices(dtype=dtype))
    omega = Shannon()
    conj = omega.conjugate(theta)
    assert conj.dtype == dtype
    assert_close(conj, scipy.special.logsumexp(theta, axis=-1), dtype=dtype)
    assert_close(omega.predict(theta), scipy.special.softmax(theta, axis=-1), dtype=dtype)
    scale = 1 + np.abs(theta).max()
    assert_close(Regularizer.conjugate(omega, theta), conj, dtype=dtype, scale=scale)


def test_shannon_conjugate_edge_cases():
    omega = Shannon()
    assert_close(omega.conjugate([0.0, 0.0, -np.inf]), np.log(2))
    assert_close(omega.conjugate([1e300, 1e300, -1e300]), 1e300)
    assert omega.conjugate(np.array([1e8, 1e8], dtype=np.float32)) == np.float32(1e8)


@given(st.data(), st.sampled_from(["shannon", "sparsemax", "tsallis"]))
def test_values(data, name):
    """Ω at ŷ(θ) against the textbook formulas (0 log 0 = 0); vertices of the simplex."""
    alpha = data.draw(st.sampled_from([1.5, 2.0, 3.0, 1.1]))
    omega = regularizer(name, **({"alpha": alpha} if name == "tsallis" else {}))
    y = omega.predict(data.draw(vectors(1, 10)))
    expected = {
        "shannon": lambda: scipy.special.xlogy(y, y).sum(),
        "sparsemax": lambda: 0.5 * y @ y,
        "tsallis": lambda: (np.sum(y**alpha) - 1) / (alpha * (alpha - 1)),
    }[name]()
    assert_close(omega.value(y), expected)
    vertex = np.eye(4)[1]
    assert_close(omega.value(vertex), {"shannon": 0.0, "sparsemax": 0.5, "tsallis": 0.0}[name])


@given(vectors(1, 10))
def test_tsallis_limits(theta):
    """α = 2 is ½‖y‖² − ½; near α = 1, Ω_α(y) = Ω_1(y) + ε/α (½Σ y log² y − Σ y log y) + O(ε²).

    At ε = 1e-9 the O(ε²) remainder is ~1e-18, so the check holds to 1e-14 only because Ω is evaluated with
    expm1: the textbook (Σ y^α − 1)/(α(α − 1)) loses ~1e-7 there to cancellation.
    """
    y = Shannon().predict(theta)
    assert_close(Tsallis(2.0).value(y), 0.5 * y @ y - 0.5)
    alpha = 1 + 1e-9
    eps = alpha - 1  # exact; 1 + 1e-9 rounds, so ε is not exactly 1e-9
    log_y = np.log(y, out=np.zeros_like(y), where=y > 0)
    first_order = Shannon().value(y) + eps / alpha * (0.5 * y @ log_y**2 - y @ log_y)
    np.testing.assert_allclose(Tsallis(alpha).value(y), first_order, rtol=0, atol=1e-14)


@pytest.mark.parametrize("omega", [Shannon(), SquaredSimplex(), Tsallis(1.5), Tsallis(1.3), Tsallis(3.0)], ids=repr)
@given(theta=vectors(1, 10), data=st.data())
def test_jvp_structure(omega, theta, data):
    """J = diag(s) − ssᵀ/Σs is symmetric positive semi-definite with J1 = 0: ⟨u, Jv⟩ = ⟨Ju, v⟩, ⟨v, Jv⟩ ≥ 0,
    Σ(Jv) = 0; and Jv vanishes off the support."""
    u, v = (data.draw(vectors(theta.size, theta.size, bound=1.0)) for _ in range(2))
    ju, jv = omega.jvp(theta, u), omega.jvp(theta, v)
    scale = 1 + np.abs(ju).max() + np.abs(jv).max()
    assert abs(u @ jv - ju @ v) <= 1e-12 * scale
    assert v @ jv >= -1e-12 * scale
    assert abs(jv.sum()) <= 1e-12 * scale
    np.testing.assert_array_equal(jv[omega.predict(theta) == 0], 0)


@given(vectors(2, 10), vectors(2, 10, bound=1.0))
def test_sparsemax_jvp_is_centering_on_the_support(theta, v):
    v = np.resize(v, theta.size)
    support = refefl.sparsemax(theta) > 0
    expected = np.where(support, v - v[support].mean(), 0)
    assert_close(SquaredSimplex().jvp(theta, v), expected)


def test_shannon_jvp_matrix():
    theta = np.array([0.2, -1.0, 0.5])
    p = scipy.special.softmax(theta)
    jacobian = np.stack([Shannon().jvp(theta, e) for e in np.eye(3)], axis=1)
    assert_close(jacobian, np.diag(p) - np.outer(p, p))


@pytest.mark.parametrize(
    "omega, alpha, margin",
    [(Shannon(), None, 0.0), (SquaredSimplex(), 2.0, 1e-5)]
    + [(Tsallis(a), a, 1e-5) for a in SMOOTH_ALPHAS]
    + [(Tsallis(a), a, 1e-2) for a in ROUGH_ALPHAS],
    ids=lambda p: repr(p) if isinstance(p, Regularizer) else str(p),
)
@given(theta=vectors(2, 8, bound=3.0), data=st.data())
def test_jvp_matches_central_differences(omega, alpha, margin, theta, data):
    """Float64 central differences (step 1e-6) along a random direction, skipping draws with a score within
    ``margin`` of the threshold in θ units: 1e-5 (ten steps; the threshold moves by at most one step per step)
    where ŷ is piecewise polynomial in the gap (α ∈ {1.25, 4/3, 1.5, 2}); 1e-2 for other α, whose third derivative
    grows like gap^{1/(α−1) − 3} near the boundary and would swamp the difference. Softmax is smooth: no skip."""
    v = data.draw(vectors(theta.size, theta.size, bound=1.0))
    y_hat = omega.predict(theta)
    if alpha is not None:
        assume(_kink_distance(theta, y_hat, alpha).min() > margin)
    expected = directional_derivative(omega.predict, theta, v)
    np.testing.assert_allclose(omega.jvp(theta, v), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("omega", [Shannon(), SquaredSimplex(), Tsallis(1.5), Tsallis(1.3)], ids=repr)
@pytest.mark.parametrize("dtype", DTYPES)
def test_jvp_neg_inf_and_dtype(omega, dtype):
    """−inf scores: Jv is 0 there and equals the JVP of the finite part elsewhere; float32 stays float32."""
    theta = np.array([0.4, -np.inf, 1.1, 0.9, -np.inf, 0.0], dtype=dtype)
    v = np.array([0.3, -2.0, 0.5, -0.1, 7.0, 0.2], dtype=dtype)
    finite = np.isfinite(theta)
    jv = omega.jvp(theta, v)
    assert jv.dtype == dtype
    np.testing.assert_array_equal(jv[~finite], 0)
    assert_close(jv[finite], omega.jvp(theta[finite], v[finite]))


@pytest.mark.parametrize("omega", [Shannon(), SquaredSimplex(), Tsallis(2.5)], ids=repr)
def test_domain_is_the_simplex(omega):
    tol = np.sqrt(np.finfo(np.float64).eps)
    rows = np.array([
        [0.2, 0.3, 0.5],            # inside
        [0.0, 0.0, 1.0],            # vertex
        [-0.5 * tol, 0.5, 0.5],     # within tolerance of the boundary
        [-0.1, 0.6, 0.5],           # negative entry
        [0.2, 0.3, 0.6],            # sums to 1.1
        [0.2, 0.3, 0.5 - 2 * tol],  # sum off by more than the tolerance
    ])
    np.testing.assert_array_equal(omega.in_domain(rows), [True, True, True, False, False, False])
    assert np.isfinite(omega.value(rows[:3])).all()
    with pytest.raises(ValueError, match="domain"):
        omega.value(rows[3])
