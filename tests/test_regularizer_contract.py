"""The subclassing contract of Regularizer: a regularizer written in user code, in this one file, gets the solver
its geometry allows (projected gradient for a smooth Ω, mirror ascent for a Legendre Ω, Frank-Wolfe without a
projection) and the exact generalized FY loss of its built-in equivalent; a solver that needs a method the class
lacks names it; the declared geometry of the built-in regularizers (strong convexity, Legendre type, tangent
space) holds."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit, logit, xlogy

from refefl import GeneralizedFenchelYoungLoss, Regularizer, energies, maximizers, regularizer
from refefl._validation import feasibility_tol
from refefl.regularizers import REGULARIZERS
from refefl.testing import assert_close

SEEDS = st.integers(0, 2**32 - 1)
SCALES = st.sampled_from([0.5, 1.0, 3.0])


def in_box(y, tol):
    return ((y >= -tol) & (y <= 1 + tol)).all(axis=-1)


class ScaledSquaredBox(Regularizer):
    r"""c/2 ‖y‖² on the box [0, 1]^k: ŷ = clip(θ/c, 0, 1); smooth, c-strongly convex, no coordinate update."""

    def __init__(self, c):
        self.c = c

    @property
    def strong_convexity(self):
        return self.c

    def _value(self, y):
        return 0.5 * self.c * (y * y).sum(axis=-1)

    def _in_domain(self, y, tol):
        return in_box(y, tol)

    def _predict(self, theta):
        return np.clip(theta / self.c, 0, 1)

    def _jvp(self, theta, v):
        return np.where((theta > 0) & (theta < self.c), v / self.c, 0)

    def _gradient(self, y):
        return self.c * y

    def _project(self, z):
        return np.clip(z, 0, 1)


class ScaledBinaryEntropy(Regularizer):
    r"""c times the binary negentropy on the box: ŷ = σ(θ/c); Legendre, 4c-strongly convex, no projection."""

    legendre = True

    def __init__(self, c):
        self.c = c

    @property
    def strong_convexity(self):
        return 4 * self.c

    def _value(self, y):
        y = np.clip(y, 0, 1)
        return self.c * (xlogy(y, y) + xlogy(1 - y, 1 - y)).sum(axis=-1)

    def _in_domain(self, y, tol):
        return in_box(y, tol)

    def _predict(self, theta):
        return expit(theta / self.c)

    def _jvp(self, theta, v):
        return expit(theta / self.c) * expit(-theta / self.c) * v / self.c

    def _gradient(self, y):
        with np.errstate(divide="ignore"):
            return self.c * logit(y)


class SquaredBoxWithoutProjection(ScaledSquaredBox):
    """ScaledSquaredBox minus its projection: as if the user had not written ``_project``."""

    _project = Regularizer._project


class EntropyWithoutGradient(ScaledBinaryEntropy):
    """ScaledBinaryEntropy minus its gradient."""

    _gradient = Regularizer._gradient


def concave_problem(seed, c, n=4, k=3):
    """A strictly concave low-rank pairwise problem (θ, V), its version for Ω/c, (θ/c, V/√c), and binary targets:
    max_y Φ − cΩ = c max_y (Φ/c − Ω), so the loss with cΩ is c times the loss with Ω of the scaled energy."""
    rng = np.random.default_rng(seed)
    theta, v = 2 * rng.normal(size=(n, k)), rng.normal(size=(k, 2))
    y = (rng.random((n, k)) < 0.5).astype(float)
    return (theta, v), (theta / c, v / np.sqrt(c)), y


@pytest.mark.parametrize("user, builtin, solver", [
    (ScaledSquaredBox, "box_squared", maximizers.ProjectedGradientAscent),
    (ScaledBinaryEntropy, "binary_entropy", maximizers.MirrorAscent),
    (SquaredBoxWithoutProjection, "box_squared", maximizers.FrankWolfe),
])
@given(seed=SEEDS, c=SCALES)
def test_user_regularizer_gets_its_solver_and_the_exact_loss(user, builtin, solver, seed, c):
    energy = energies.LowRankConcave()
    params, scaled_params, y = concave_problem(seed, c)
    loss = GeneralizedFenchelYoungLoss(energy, user(c))
    assert type(loss.maximizer) is solver
    reference = GeneralizedFenchelYoungLoss(energy, regularizer(builtin))  # coordinate ascent, built in
    assert type(reference.maximizer) is maximizers.CoordinateAscent
    expected = c * reference.value(scaled_params, y)
    # both solvers stop at stationarity sqrt(eps); F is strongly concave, so the loss is off by O(eps)
    assert_close(loss.value(params, y), expected, scale=1e3)
    y_hat, info = loss.predict(params)
    assert info.converged
    # ŷ itself is only as accurate as the stopping test, stationarity ≤ sqrt(eps), times the conditioning of F
    np.testing.assert_allclose(y_hat, reference.predict(scaled_params)[0], atol=100 * feasibility_tol(np.float64))


@pytest.mark.parametrize("c", [0.5, 3.0])
def test_user_regularizer_exact_loss_with_the_bilinear_energy(c):
    """The classic FY loss: ClosedForm for any Ω; L_{cΩ}(θ; y) = c L_Ω(θ/c; y)."""
    rng = np.random.default_rng(0)
    theta, y = 3 * rng.normal(size=(5, 4)), (rng.random((5, 4)) < 0.5).astype(float)
    for user, builtin in [(ScaledSquaredBox, "box_squared"), (ScaledBinaryEntropy, "binary_entropy")]:
        loss = GeneralizedFenchelYoungLoss(energies.Bilinear(), user(c))
        assert type(loss.maximizer) is maximizers.ClosedForm
        reference = GeneralizedFenchelYoungLoss(energies.Bilinear(), regularizer(builtin))
        assert_close(loss.value(theta, y), c * reference.value(theta / c, y))


def test_a_solver_names_the_method_a_user_regularizer_lacks():
    energy, quad = energies.LowRankConcave(), (np.zeros((2, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"SquaredBoxWithoutProjection does not define _project\(\)"):
        maximizers.ProjectedGradientAscent().maximize(energy, SquaredBoxWithoutProjection(1.0), quad)
    with pytest.raises(ValueError, match=r"EntropyWithoutGradient does not define _gradient\(\)"):
        maximizers.MirrorAscent().maximize(energy, EntropyWithoutGradient(1.0), quad)
    with pytest.raises(ValueError, match="_coordinate_update"):
        maximizers.CoordinateAscent().maximize(energy, ScaledSquaredBox(1.0), quad)
    with pytest.raises(NotImplementedError, match="_project"):
        SquaredBoxWithoutProjection(1.0)._project(np.zeros((1, 3)))
    # without ∇Ω only Frank-Wolfe applies
    assert type(maximizers.default_maximizer(energy, EntropyWithoutGradient(1.0))) is maximizers.FrankWolfe


# -- the declared geometry of the built-in regularizers --------------------------------------------------------
BUILTIN = [("shannon", {}), ("sparsemax", {}), ("tsallis", {"alpha": 1.5}), ("tsallis", {"alpha": 3.0}),
           ("binary_entropy", {}), ("box_squared", {}), ("capped_squared", {"s": 2}), ("capped_entropy", {"s": 2}),
           ("perm_squared", {}), ("perm_entropy", {"w": [3.0, 2.0, 1.0, 0.5, 0.25]})]
LEGENDRE = {"shannon", "binary_entropy", "capped_entropy", "perm_entropy"}


def test_builtin_list_covers_the_registry():
    assert {name for name, _ in BUILTIN} == set(REGULARIZERS)


@pytest.mark.parametrize("name, params", BUILTIN)
def test_legendre_flag(name, params):
    assert regularizer(name, **params).legendre is (name in LEGENDRE)


@pytest.mark.parametrize("name, params", BUILTIN)
@given(seed=SEEDS)
def test_strong_convexity_holds(name, params, seed):
    r"""Ω(y') ≥ Ω(y) + ⟨∇Ω(y), y' − y⟩ + μ/2 ‖y' − y‖² for y, y' in C (∇Ω's shift along 1 is invisible there)."""
    omega = regularizer(name, **params)
    mu = omega.strong_convexity
    if name == "tsallis":
        assert (mu is None) is (params["alpha"] > 2)
    if mu is None:
        return
    rng = np.random.default_rng(seed)
    y, y_new = omega.predict(2 * rng.normal(size=(2, 6, 5)))
    d = y_new - y
    excess = omega.value(y_new) - omega.value(y) - (omega._gradient(y) * d).sum(axis=-1)
    assert (excess >= mu / 2 * (d * d).sum(axis=-1) - 1e-9).all()


@pytest.mark.parametrize("name, params", BUILTIN)
@given(seed=SEEDS)
def test_tangent_and_projection(name, params, seed):
    """_tangent removes exactly the component normal to the affine hull of C (so ⟨v, y' − y⟩ is unchanged), and
    _project lands in C and fixes the points of C."""
    omega = regularizer(name, **params)
    rng = np.random.default_rng(seed)
    y, y_new = omega.predict(2 * rng.normal(size=(2, 6, 5)))
    v = 5 * rng.normal(size=y.shape)
    t = omega._tangent(v)
    assert_close((t * (y_new - y)).sum(axis=-1), (v * (y_new - y)).sum(axis=-1), scale=1e3)
    assert_close(omega._tangent(t), t)
    assert omega.in_domain(omega._project(10 * rng.normal(size=y.shape))).all()
    assert_close(omega._project(y), y, scale=1e3)
