"""check_min_min_loss: refefl's min-min loss passes every property for each divergence and dtype, and wrong
implementations are caught by the property named for their bug."""
import numpy as np
import pytest

from test_testing_mutants import Mutant, assert_caught, cases

from refefl.partition import min_min_loss
from refefl.testing import KINDS, check_min_min_loss

EXAMPLES = 25
CASES = [("kl", None), ("sparsemax", None), ("tsallis", 1.5)]


def _refefl(divergence, alpha):
    value = lambda t, s, u: min_min_loss(t, s, u, divergence=divergence, alpha=alpha)  # noqa: E731
    grad = lambda t, s, u: min_min_loss(t, s, u, divergence=divergence, alpha=alpha, return_grad=True)[1]  # noqa: E731
    return value, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("divergence, alpha", CASES)
def test_refefl_passes_every_property(divergence, alpha, dtype):
    value, grad = _refefl(divergence, alpha)
    report = check_min_min_loss(value, grad, divergence=divergence, alpha=alpha, dtype=dtype, examples=EXAMPLES)
    report.raise_for_failures()
    assert any(r.verdict == "passed" for r in report.results)


def _kl_terms(t, s, u):
    t, s, u = (np.asarray(a, dtype=np.float64) for a in (t, s, u))
    return t, s, u


def _sum_not_mean(t, s, u):
    """Forgets the 1/m (log m) of the mean of exponentials."""
    t, s, u = _kl_terms(t, s, u)
    top = s.max(axis=1)
    return u + np.exp(top - u) * np.exp(s - top[:, None]).sum(axis=1) - 1 - t


def _drops_impossible_samples(t, s, u):
    """Averages over the finite samples only (an impossible sample must count as a zero in the mean)."""
    t, s, u = _kl_terms(t, s, u)
    finite = np.isfinite(s)
    terms = np.where(finite, np.exp(np.where(finite, s, 0) - u[:, None]), 0.0)
    return u + terms.sum(axis=1) / np.maximum(finite.sum(axis=1), 1) - 1 - t


def _tau_gradient_sign(t, s, u):
    d_target, d_samples, d_tau = min_min_loss(t, s, u, return_grad=True)[1]
    return d_target, d_samples, -d_tau


def _mutant(name, value, grad, caught_by):
    return Mutant(name, lambda props, seed, dtype: check_min_min_loss(value, grad, dtype=dtype, examples=EXAMPLES,
                                                                      seed=seed, properties=props),
                  caught_by, examples=EXAMPLES)


MUTANTS = [
    _mutant("sum_not_mean", _sum_not_mean, None, "agrees_with_refefl"),
    _mutant("sum_not_mean", _sum_not_mean, None, "upper_bounds_log_partition"),
    _mutant("drops_impossible_samples", _drops_impossible_samples, None, "neg_inf_samples"),
    _mutant("tau_gradient_sign", lambda t, s, u: min_min_loss(t, s, u), _tau_gradient_sign, "gradients_match_refefl"),
]


@pytest.mark.parametrize("mutant, dtype", cases(MUTANTS))
def test_mutants_are_caught(mutant, dtype):
    assert_caught(mutant, dtype)


def test_kinds_and_bad_options():
    for name in ("min_min_loss", "min_min_sparsemax_loss", "min_min_tsallis15_loss"):
        assert name in KINDS
    report = KINDS["min_min_tsallis15_loss"].run(_refefl("tsallis", 1.5)[0], examples=5)
    assert report.ok
    with pytest.raises(ValueError, match="axis -1"):
        KINDS["min_min_loss"].run(min_min_loss, axis=0)
    with pytest.raises(ValueError, match="alpha in"):
        check_min_min_loss(min_min_loss, divergence="tsallis")
