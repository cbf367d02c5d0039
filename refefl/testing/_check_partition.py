r"""Checks of a min-min loss :math:`\ell(g^{\mathrm{target}}, g, \tau)` (energy and partition networks)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Property, check_that, compare, make_context, run_properties, target_name,
)
from refefl.testing._report import CheckReport


def _energies(ctx, *, spread=5.0, neg_inf=False):
    """(g_target (n,), g_samples (n, m), tau (n,)): energies and log-partition estimates of a few examples."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    width = np.dtype(ctx.dtype).itemsize * 8
    values = st.floats(-spread, spread, allow_nan=False, allow_infinity=False, width=width)
    sample = st.one_of(values, st.just(-np.inf)) if neg_inf else values

    def draw(shape):
        n, m = shape
        return st.tuples(hnp.arrays(ctx.dtype, n, elements=values), hnp.arrays(ctx.dtype, (n, m), elements=sample),
                         hnp.arrays(ctx.dtype, n, elements=values))

    return st.tuples(st.integers(1, 4), st.integers(1, 6)).flatmap(draw)


def _reference(ctx, g_target, g_samples, tau, **kwargs):
    from refefl.partition import min_min_loss

    return min_min_loss(*(np.asarray(a, dtype=np.float64) for a in (g_target, g_samples, tau)),
                        divergence=ctx.options["divergence"], alpha=ctx.options["alpha"], **kwargs)


def _agree(ctx, example):
    expected = _reference(ctx, *example)
    compare(ctx.call("value", *example, row_axis=False), expected, ctx, "loss vs refefl",
            atol_scale=1 + float(np.abs(expected).max()))


def _kl_minimizer(example):
    """τ* = log mean_j exp(g_j) per row, the minimizer of the KL loss over τ (equal weights)."""
    _, g_samples, _ = example
    g = np.asarray(g_samples, dtype=np.float64)
    top = g.max(axis=1)
    return top + np.log(np.mean(np.exp(g - top[:, None]), axis=1))


def _upper_bound(ctx, example):
    g_target, g_samples, tau = example
    at_minimum = ctx.call("value", g_target, g_samples, _kl_minimizer(example).astype(ctx.dtype), row_axis=False)
    anywhere = ctx.call("value", g_target, g_samples, tau, row_axis=False)
    exact = _kl_minimizer(example) - np.asarray(g_target, dtype=np.float64)  # the sampled NLL, its minimum
    compare(at_minimum, exact, ctx, "loss at τ* = log mean exp(g) vs the sampled log-likelihood",
            atol_scale=1 + float(np.abs(exact).max()))
    slack = 10 * ctx.tol[0] * (1 + np.abs(exact))
    check_that(bool(np.all(anywhere >= exact - slack)), "the loss is below its minimum over τ (every τ must give an "
               "upper bound of log mean exp(g) − g_target)", expected=exact, got=anywhere)


def _gradients(ctx, example):
    expected = _reference(ctx, *example, return_grad=True)[1]
    got = ctx.fns["grad"](*(ctx.to_impl(np.ascontiguousarray(a)) for a in example))
    for name, g, e in zip(("g_target", "g_samples", "tau"), got, expected):
        compare(ctx.to_numpy(g), e, ctx, f"gradient in {name} vs refefl")


def _large_gaps(ctx):
    """Sample energies up to 700 above τ (float64): the mean of exponentials must stay finite and exact."""
    from hypothesis import strategies as st

    return _energies(ctx).flatmap(lambda ex: st.just((ex[0], ex[1] + 700 - ex[1].max(), ex[2])))


def _batched(ctx, example):
    rows = np.array([ctx.call("value", t[None], s[None], u[None], row_axis=False) for t, s, u in zip(*example)])
    compare(ctx.call("value", *example, row_axis=False).reshape(-1), rows.reshape(-1), ctx,
            "a batch vs example by example", scale=10)


def min_min_properties(ctx) -> list[Property]:
    kl = ctx.options["divergence"] == "kl"
    return [
        Property("agrees_with_refefl", "matches refefl.partition.min_min_loss", _energies, _agree),
        Property("upper_bounds_log_partition", "ℓ(τ) ≥ ℓ(τ*) = log mean exp(g) − g_target for every τ (KL)",
                 _energies, _upper_bound, skip=lambda c: None if kl else "the τ* closed form is for the KL loss"),
        Property("gradients_match_refefl", "(∂g_target, ∂g_samples, ∂τ) equal refefl's", _energies, _gradients,
                 skip=lambda c: None if "grad" in c.fns else "no grad_fn given"),
        Property("large_gaps", "g − τ up to 700 stays finite and matches refefl (float64, KL)", _large_gaps, _agree,
                 skip=lambda c: None if kl and c.dtype == np.float64 else "e^700 is beyond float32 / not KL"),
        Property("neg_inf_samples", "a sample of energy −inf (an impossible output) contributes 0",
                 lambda c: _energies(c, neg_inf=True), _agree),
        Property("batched", "a batch equals the examples one by one", _energies, _batched),
    ]


def check_min_min_loss(value_fn: Callable, grad_fn: Callable | None = None, *, divergence: str = "kl",
                       alpha: float | None = None, convert=None, dtype=np.float64,
                       examples: int = DEFAULT_EXAMPLES, seed: int = 0,
                       properties: list[str] | None = None) -> CheckReport:
    r"""Property-test a min-min loss and, if given, its gradients.

    .. math::

        \ell_i = \tau_i + \frac1m \sum_{j=1}^m f^*\big(g_{ij} - \tau_i\big) - g^{\mathrm{target}}_i, \qquad
        \min_\tau \ell_i = \log \tfrac1m \textstyle\sum_j e^{g_{ij}} - g^{\mathrm{target}}_i \quad (\mathrm{KL}),

    ``value_fn(g_target, g_samples, tau)`` returns the per-example losses (n,) for g_target (n,), g_samples
    (n, m), tau (n,); ``grad_fn`` the tuple of their gradients, as :func:`refefl.partition.min_min_loss` does
    with ``return_grad=True``. Properties: agreement with refefl, the upper bound (every τ bounds the minimum
    attained at τ* = log mean exp(g), KL), gradients, g − τ up to 700, −inf sample energies, batching.

    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 (the min-min objective and its minimizer over τ) and §4 (f-divergences).

    Examples
    --------
    >>> from refefl.partition import min_min_loss
    >>> from refefl.testing import check_min_min_loss
    >>> check_min_min_loss(min_min_loss, examples=5).ok
    True
    """
    from refefl.partition._loss import _check_divergence

    divergence, alpha = _check_divergence(divergence, alpha)
    ctx = make_context({"value": value_fn, "grad": grad_fn}, dtype=dtype, axis=-1, convert=convert,
                       divergence=divergence, alpha=alpha)
    return run_properties(f"min_min_loss[{divergence}]", target_name(value_fn), min_min_properties(ctx), ctx,
                          examples=examples, seed=seed, properties=properties)
