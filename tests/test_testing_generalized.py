"""check_generalized_fy_loss: refefl's generalized FY loss of the quadratic energy passes every property (both
regularizers, dtypes and backends), an approximate inner solver passes the properties that hold for it, and each
wrong implementation below is caught by the property named in its test."""
import warnings

import numpy as np
import pytest

from test_testing_mutants import Mutant, assert_caught, cases

from refefl import GeneralizedFenchelYoungLoss, regularizer
from refefl.energies import Quadratic
from refefl.maximizers import CoordinateAscent
from refefl.maximizers._base import objective
from refefl.projections._root_finding import ConvergenceWarning
from refefl.testing import KINDS, check_generalized_fy_loss, parametrize_checks

EXAMPLES = 30
_QUADRATIC = Quadratic()


def _loss(reg="binary_entropy", **maximizer):
    return GeneralizedFenchelYoungLoss(_QUADRATIC, regularizer(reg), CoordinateAscent(**maximizer) if maximizer
                                       else None)


def _fns(loss):
    return (lambda t, a, y: loss.value((t, a), y)), (lambda t, a, y: loss.grad((t, a), y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reg", ["binary_entropy", "box_squared"])
def test_refefl_passes_every_property(reg, dtype, backend):
    report = check_generalized_fy_loss(*_fns(_loss(reg, backend=backend)), reg, dtype=dtype, examples=EXAMPLES)
    report.raise_for_failures()
    assert report["gradient_matches_danskin"].passed


def test_an_approximate_solver_passes_as_approximate_and_fails_as_exact():
    value, grad = _fns(_loss("binary_entropy", max_iter=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        approximate = check_generalized_fy_loss(value, grad, exact=False, examples=EXAMPLES)
        as_exact = check_generalized_fy_loss(value, grad, examples=EXAMPLES, properties=["agrees_with_refefl"])
    approximate.raise_for_failures()
    assert approximate["agrees_with_refefl"].verdict == "skipped"
    assert approximate["bounded_by_exact_loss"].passed
    assert as_exact["agrees_with_refefl"].verdict == "failed"


def _solution(t, a, y, reg="binary_entropy"):
    return _loss(reg).solve((t, a), y)


def gradient_without_target_term(t, a, y):
    """∇Φ(ŷ) only: forgets −∇Φ(y, θ)."""
    y_hat = _solution(t, a, y).y_hat
    return y_hat, 0.5 * y_hat.T @ y_hat


def gradient_with_the_wrong_sign(t, a, y):
    """∇Φ(y) − ∇Φ(ŷ)."""
    g_theta, g_a = _solution(t, a, y).grad
    return -g_theta, -g_a


def gradient_in_a_without_the_half(t, a, y):
    """Σ_i(ŷ_iŷ_iᵀ − y_iy_iᵀ): ∇_A of ⟨y, Ay⟩ instead of ½⟨y, Ay⟩."""
    g_theta, g_a = _solution(t, a, y).grad
    return g_theta, 2 * g_a


def loss_without_the_safeguard(t, a, y):
    """F(ŷ) − F(y) with ŷ from a solver stopped at sqrt(eps): negative where y is a better maximizer than ŷ."""
    loss = _loss()
    _, info = loss.maximizer.maximize(_QUADRATIC, loss.regularizer, (t, a))
    return info.objective - objective(_QUADRATIC, loss.regularizer, (t, a), np.asarray(y))


def _unconstrained(t, a):
    """argmax of ⟨y, θ⟩ + ½⟨y, Ay⟩ − ½‖y‖² over R^k (not the box): (I − A)⁻¹θ."""
    return np.linalg.solve(np.eye(a.shape[0]) - a, np.asarray(t, dtype=np.float64).T).T


def box_loss_with_unconstrained_maximizer(t, a, y):
    """½‖·‖² on the box, ŷ solved without the box: F(ŷ) ≥ max_C F, an overestimate reported as a loss."""
    t64, a64, y64 = (np.asarray(x, dtype=np.float64) for x in (t, a, y))
    f = lambda z: (z * t64).sum(-1) + 0.5 * np.einsum("ni,ij,nj->n", z, a64, z) - 0.5 * (z * z).sum(-1)  # noqa: E731
    return np.maximum(f(_unconstrained(t, a)) - f(y64), 0).astype(np.asarray(t).dtype)


def box_gradient_with_unconstrained_maximizer(t, a, y):
    y_hat, y64 = _unconstrained(t, a), np.asarray(y, dtype=np.float64)
    return y_hat - y64, 0.5 * (y_hat.T @ y_hat - y64.T @ y64)


def _refefl_value(t, a, y):
    return _loss().value((t, a), y)


def _mutant(name, value, grad, caught_by, reg="binary_entropy", *, exact=True, **entry):
    return Mutant(name, lambda props, seed, dtype: check_generalized_fy_loss(
        value, grad, reg, exact=exact, dtype=dtype, examples=EXAMPLES, seed=seed, properties=props),
        caught_by, **entry)


MUTANTS = [
    _mutant("gradient_without_target_term", _refefl_value, gradient_without_target_term, "gradient_matches_danskin"),
    _mutant("gradient_without_target_term", _refefl_value, gradient_without_target_term,
            "gradient_consistent_with_value"),
    _mutant("gradient_wrong_sign", _refefl_value, gradient_with_the_wrong_sign, "gradient_matches_danskin"),
    _mutant("gradient_wrong_sign", _refefl_value, gradient_with_the_wrong_sign, "gradient_consistent_with_value"),
    _mutant("gradient_in_a_without_the_half", _refefl_value, gradient_in_a_without_the_half,
            "gradient_matches_danskin"),
    _mutant("gradient_in_a_without_the_half", _refefl_value, gradient_in_a_without_the_half,
            "gradient_consistent_with_value"),
    # right up to the solver's accuracy: only L ≥ 0 exposes it
    _mutant("loss_without_the_safeguard", loss_without_the_safeguard, None, "nonnegative",
            passes=("agrees_with_refefl",), dtypes=("float64", "float32"), confirm=lambda r: np.min(r.got) < 0),
    # even declared approximate (exact=False), an overestimate is caught; its ỹ also leaves the box
    _mutant("box_unconstrained_maximizer", box_loss_with_unconstrained_maximizer,
            box_gradient_with_unconstrained_maximizer, "bounded_by_exact_loss", "box_squared", exact=False),
    _mutant("box_unconstrained_maximizer", box_loss_with_unconstrained_maximizer,
            box_gradient_with_unconstrained_maximizer, "gradient_consistent_with_value", "box_squared", exact=False),
]


@pytest.mark.parametrize("mutant, dtype", cases(MUTANTS))
def test_mutant_is_caught_by_its_property(mutant, dtype):
    assert_caught(mutant, dtype)


def test_kinds_and_bad_options():
    assert {"generalized_fy_loss", "generalized_fy_box_squared_loss"} <= set(KINDS)
    loss = _loss("box_squared")
    report = KINDS["generalized_fy_box_squared_loss"].run(_fns(loss)[0], grad_fn=_fns(loss)[1], examples=5)
    assert report.ok and report["gradient_matches_danskin"].passed
    with pytest.raises(ValueError, match="regularizer must be one of"):
        check_generalized_fy_loss(_refefl_value, regularizer="sparsemax")
    with pytest.raises(TypeError, match="exact must be a bool"):
        check_generalized_fy_loss(_refefl_value, exact="yes")
    with pytest.raises(ValueError, match="axis -1"):
        KINDS["generalized_fy_loss"].run(_refefl_value, axis=0)


def refefl_box_value(t, a, y):
    return _loss("box_squared").value((t, a), y)


def refefl_box_grad(t, a, y):
    return _loss("box_squared").grad((t, a), y)


def test_command_line(tmp_path, capsys):
    from refefl.__main__ import main

    module = __name__
    out = tmp_path / "report.json"
    assert main(["check", "generalized_fy_box_squared_loss", f"{module}:refefl_box_value", "--grad",
                 f"{module}:refefl_box_grad", "--examples", "5", "--json", str(out)]) == 0
    assert "gradient_matches_danskin" in capsys.readouterr().out and out.exists()
    assert main(["check", "generalized_fy_box_squared_loss", f"{module}:box_loss_with_unconstrained_maximizer",
                 "--approximate", "--examples", "10"]) == 1
    assert "bounded_by_exact_loss" in capsys.readouterr().out
    assert main(["check", "sparsemax", "refefl:sparsemax", "--approximate"]) == 2


@parametrize_checks(refefl_box_value, kind="generalized_fy_box_squared_loss", grad_fn=refefl_box_grad, examples=5)
def test_parametrize_checks_gives_one_test_per_property(check):
    check()
