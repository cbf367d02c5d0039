"""The checks bite: each deliberately wrong implementation below (a bug a peer has shipped) is caught by the
property named in its entry of ``MUTANTS``, while the properties listed as ``passes`` hold (the bug is specific).
``MUTANTS`` is also run across seeds 0..19 by ``python -m benchmarks.testing_seeds``
(benchmarks/results/testing_seeds.md); ``EXAMPLES`` per property, the checks' default being 100.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import refefl
from refefl.losses import FenchelYoungLoss
from refefl.testing import check_fy_loss, check_jvp, check_prediction_map
from refefl.testing._check_derivatives import refefl_jvp

EXAMPLES = 30


@dataclass(frozen=True)
class Mutant:
    """A wrong implementation and the check that must catch it.

    ``check(properties, seed, dtype)`` runs the check on the mutant; ``caught_by`` must fail (with a
    counterexample), ``passes`` must pass; ``confirm(result)`` tests the failure further (what it reports).
    """

    name: str
    check: Callable
    caught_by: str
    passes: tuple = ()
    dtypes: tuple = ("float64",)
    examples: int = EXAMPLES
    confirm: Callable = lambda result: True

    def run(self, *, seed: int = 0, dtype: str = "float64", properties: list[str] | None = None):
        return self.check(properties or [self.caught_by, *self.passes], seed, dtype)


def assert_caught(mutant: Mutant, dtype: str) -> None:
    """The test of one mutant entry (seed 0): its property fails with a counterexample, the others pass."""
    report = mutant.run(dtype=dtype)
    result = report[mutant.caught_by]
    assert result.verdict == "failed", report.table()
    assert result.counterexample is not None
    assert mutant.confirm(result), report.table()
    for name in mutant.passes:
        assert report[name].passed, report.table()


def cases(mutants: list[Mutant]) -> list:
    """pytest parameters (mutant, dtype) with readable ids."""
    return [pytest.param(m, d, id=f"{m.name}-{m.caught_by}-{d}") for m in mutants for d in m.dtypes]


def _sorted_desc(theta):
    return -np.sort(-theta, axis=-1)


def sparsemax_summing_every_partial_sum(theta):
    """Threshold from the sum of all partial sums over the support instead of the last one (right for |S| = 1)."""
    theta = np.asarray(theta, dtype=np.float64)
    z = _sorted_desc(theta)
    cumsum = np.cumsum(z, axis=-1)
    j = np.arange(1, theta.shape[-1] + 1)
    k = np.sum(1 + j * z > cumsum, axis=-1, keepdims=True)
    in_support = j <= k
    tau = (np.sum(np.where(in_support, cumsum, 0), axis=-1, keepdims=True) - 1) / k
    return np.maximum(theta - tau, 0).astype(np.asarray(theta).dtype)


def sparsemax_without_max_shift(theta):
    """The sort-based projection in the input's dtype without subtracting the row max first."""
    theta = np.asarray(theta)
    z = _sorted_desc(theta)
    cumsum = np.cumsum(z, axis=-1)
    j = np.arange(1, theta.shape[-1] + 1, dtype=theta.dtype)
    k = np.sum(1 + j * z > cumsum, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumsum, k - 1, axis=-1) - 1) / k.astype(theta.dtype)
    return np.maximum(theta - tau, 0).astype(theta.dtype)


def entmax15_fixed_bracket(theta, n_halvings=50):
    """Bisection for τ on the bracket [max θ − 1, max θ − n^(−1/2)] in the input's dtype, a fixed 50 halvings."""
    theta = np.asarray(theta)
    top = theta.max(axis=-1, keepdims=True)
    lo, hi = top - 1, top - np.asarray(theta.shape[-1], theta.dtype) ** -0.5
    for _ in range(n_halvings):
        tau = (lo + hi) / 2
        mass = np.sum(np.maximum((theta - tau) / 2, 0) ** 2, axis=-1, keepdims=True)
        lo, hi = np.where(mass >= 1, tau, lo), np.where(mass >= 1, hi, tau)
    p = np.maximum((theta - (lo + hi) / 2) / 2, 0) ** 2
    return (p / p.sum(axis=-1, keepdims=True)).astype(theta.dtype)


def sparsemax_loss_over_all_entries(theta, y):
    """⟨ŷ − y, θ⟩ + Ω(y) − Ω(ŷ) summed over every entry: 0·(−inf) = NaN where a score is −inf."""
    y_hat = refefl.sparsemax(theta)
    return np.sum((y_hat - y) * theta, axis=-1) + 0.5 * np.sum(y * y, axis=-1) - 0.5 * np.sum(y_hat * y_hat, axis=-1)


def sparsemax_loss_unclipped(theta, y):
    """Ω*(θ) + Ω(y) − ⟨θ, y⟩ as written, without the clip at 0: rounding makes it negative at the optimum."""
    y_hat = refefl.sparsemax(theta)
    conjugate = np.sum(theta * y_hat, axis=-1) - 0.5 * np.sum(y_hat * y_hat, axis=-1)
    return conjugate + 0.5 * np.sum(y * y, axis=-1) - np.sum(theta * y, axis=-1)


def isotonic_jvp_with_value_tolerance(y, v, tol=1e-9):
    """J v of isotonic regression with blocks re-detected as runs of fitted values within ``tol`` of each other."""
    fit = refefl.isotonic_regression(y)
    out = np.empty_like(np.asarray(v, dtype=np.float64))
    start = 0
    for i in range(1, len(fit) + 1):
        if i == len(fit) or abs(fit[i] - fit[start]) > tol:
            out[start:i] = np.mean(v[start:i])
            start = i
    return out


_SPARSEMAX_LOSS = FenchelYoungLoss(refefl.regularizer("sparsemax"))


def _map(fn, reg, **params):
    return lambda props, seed, dtype: check_prediction_map(fn, reg, dtype=dtype, examples=EXAMPLES, seed=seed,
                                                           properties=props, **params)


def _loss(value, grad, reg):
    return lambda props, seed, dtype: check_fy_loss(value, grad, reg, dtype=dtype, examples=EXAMPLES, seed=seed,
                                                    properties=props)


MUTANTS = [
    # supports of size 1 never notice the wrong threshold
    Mutant("multi_element_support_threshold", _map(sparsemax_summing_every_partial_sum, "sparsemax"),
           "large_support", passes=("rows_of_length_one",)),
    # at ordinary scales the mutant is right
    Mutant("no_max_shift", _map(sparsemax_without_max_shift, "sparsemax"), "large_scores",
           passes=("agrees_with_refefl",), dtypes=("float32",)),
    Mutant("zero_times_neg_inf", _loss(sparsemax_loss_over_all_entries, None, "sparsemax"), "neg_inf_scores",
           passes=("agrees_with_refefl",),
           confirm=lambda r: np.isnan(r.got).any() or "not finite" in r.reason),
    # blocks further apart are found correctly
    Mutant("pav_blocks_by_value_tolerance",
           lambda props, seed, dtype: check_jvp(refefl.isotonic_regression, isotonic_jvp_with_value_tolerance,
                                                "isotonic", dtype=dtype, examples=EXAMPLES, seed=seed, batched=False,
                                                properties=props),
           "close_blocks", passes=("matches_refefl",)),
    Mutant("gradient_wrong_sign", _loss(_SPARSEMAX_LOSS.value, lambda theta, y: y - refefl.sparsemax(theta),
                                        "sparsemax"), "gradient_is_prediction_minus_target"),
    Mutant("entmax_fixed_bracket", _map(entmax15_fixed_bracket, "tsallis", alpha=1.5), "large_scores",
           dtypes=("float32",)),
    # it is right up to rounding: only L ≥ 0 exposes it
    Mutant("loss_unclipped", _loss(sparsemax_loss_unclipped, None, "sparsemax"), "nonnegative",
           passes=("agrees_with_refefl",), dtypes=("float64", "float32"), confirm=lambda r: np.min(r.got) < 0),
]


@pytest.mark.parametrize("mutant, dtype", cases(MUTANTS))
def test_mutant_is_caught_by_its_property(mutant, dtype):
    assert_caught(mutant, dtype)


def test_the_documented_close_blocks_case():
    reference = refefl_jvp("isotonic")
    y, v = np.array([-3.0, 1.0, 1.0 + 5e-10]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(reference(y, v), v)  # Jacobian row [0, 0, 1]
    assert not np.array_equal(isotonic_jvp_with_value_tolerance(y, v), v)
