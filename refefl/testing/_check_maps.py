"""Checks of maps from scores to a domain: regularized predictions ŷ_Ω(θ) and Euclidean projections."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._domains import Domain, domain, domain_of
from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Context, Mismatch, Property, check_that, compare, make_context, run_properties, target_name,
)
from refefl.testing._report import CheckReport

#: the scales agreement is tested at: small scores give supports larger than one, large ones sparse outputs
SCALES = [1e-2, 0.3, 1.0, 10.0]
#: a float32 pair on which a projection without the max shift returns [0, 0] instead of [0, 1]
FLOAT32_COUNTEREXAMPLE = [1.36762051e8, 1.59594639e8]


def _sizes(ctx: Context) -> tuple[int, int]:
    dom: Domain = ctx.options["domain"]
    if dom.fixed_size:
        return dom.fixed_size, dom.fixed_size
    return dom.min_size, max(dom.min_size, 10)


def _scores(ctx: Context, **kwargs):
    from refefl.testing import strategies as S

    low, high = _sizes(ctx)
    return S.scores(kwargs.pop("min_size", low), kwargs.pop("max_size", high), dtype=ctx.dtype, **kwargs)


def _agree(ctx: Context, theta, what="output") -> np.ndarray:
    got = ctx.call("fn", theta)
    expected = ctx.options["reference"](np.asarray(theta, dtype=np.float64))
    compare(got, expected, ctx, f"{what} vs refefl")
    return got


def _feasible(ctx, theta):
    y = ctx.call("fn", theta).astype(np.float64)
    check_that(np.isfinite(y).all(), "output is not finite", got=y)
    check_that(bool(np.all(ctx.options["domain"].contains(y, 10 * ctx.tol[0]))),
               f"output is outside the {ctx.options['domain'].name}", got=y)


def _permutation(ctx, example):
    theta, seed = example
    perm = np.random.default_rng(seed).permutation(theta.shape[-1])
    compare(ctx.call("fn", theta[perm]), ctx.call("fn", theta)[perm], ctx, "f(θ[π]) vs f(θ)[π]", scale=10)


def _shift(ctx, example):
    theta, c = example
    compare(ctx.call("fn", (theta + c).astype(ctx.dtype)), ctx.call("fn", theta), ctx, f"f(θ + {c}) vs f(θ)",
            scale=100)


def _batched(ctx, theta):
    rows = np.stack([ctx.call("fn", row) for row in theta])
    compare(ctx.call("fn", theta), rows, ctx, "2-D call vs row by row", scale=10)


def _neg_inf(ctx, theta):
    got = ctx.call("fn", theta)
    finite = np.isfinite(theta)
    check_that(not np.isnan(got).any(), "NaN output with -inf scores", got=got)
    check_that(bool(np.all(got[~finite] == 0)), "nonzero output where the score is -inf", got=got)
    expected = ctx.options["reference"](theta[finite].astype(np.float64))
    compare(got[finite], expected, ctx, "finite part vs refefl on the finite scores")


def _keeps_dtype(ctx, theta):
    got = ctx.call("fn", theta)
    check_that(got.dtype == ctx.dtype, f"{ctx.dtype} input gave {got.dtype} output")


def _fy_inequality(ctx, example):
    theta, y = example
    reg = ctx.options["regularizer"]
    y_hat = ctx.call("fn", theta)
    try:  # Ω at the output's own dtype, so that its feasibility tolerance is the dtype's
        omega_hat = float(reg.value(y_hat.astype(ctx.dtype)))
    except ValueError as error:
        raise Mismatch(f"Ω(ŷ) undefined: {error}", got=y_hat) from None
    theta, y_hat = theta.astype(np.float64), y_hat.astype(np.float64)
    f_hat = float(theta @ y_hat) - omega_hat
    f_y = float(theta @ y) - float(reg.value(y))
    slack = 10 * ctx.tol[0] * (1 + np.abs(theta).max() + abs(f_y))
    check_that(f_hat >= f_y - slack, "⟨θ,ŷ⟩ − Ω(ŷ) < ⟨θ,y⟩ − Ω(y) for a feasible y: ŷ is not the argmax",
               expected=f_y, got=f_hat)


def _idempotent(ctx, theta):
    y = ctx.call("fn", theta)
    compare(ctx.call("fn", y), y, ctx, "f(f(x)) vs f(x)", scale=10)


def _optimality(ctx, example):
    x, y = example
    p = ctx.call("fn", x).astype(np.float64)
    x = x.astype(np.float64)
    inner = float((x - p) @ (y - p))
    slack = 10 * ctx.tol[0] * (1 + np.abs(x).max()) * (1 + np.abs(y - p).sum())
    check_that(inner <= slack, "⟨x − p, y − p⟩ > 0 for a feasible y: p is not the nearest point", expected=0.0,
               got=inner)


def _with_point(ctx, theta_strategy):
    from hypothesis import strategies as st

    dom: Domain = ctx.options["domain"]
    return theta_strategy.flatmap(lambda t: st.tuples(st.just(t), dom.points(t.shape[-1], np.float64)))


def _map_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st

    from refefl.testing.strategies import HUGE

    dom: Domain = ctx.options["domain"]
    huge = HUGE[ctx.dtype]
    large = _scores(ctx, magnitude=[huge, huge / 3])
    if ctx.dtype == np.float32 and dom.fixed_size in (None, 2) and dom.min_size <= 2:
        large = st.one_of(st.just(np.array(FLOAT32_COUNTEREXAMPLE, dtype=np.float32)), large)
    return [
        Property("agrees_with_refefl", "matches refefl at every scale", lambda c: _scores(c, magnitude=SCALES),
                 _agree),
        Property("feasible", "the output lies in the domain", lambda c: _scores(c, magnitude=SCALES), _feasible),
        Property("ties", "matches refefl on tied scores", lambda c: _scores(c, magnitude=SCALES, ties=True), _agree),
        Property("large_support", "matches refefl when many outputs are nonzero",
                 lambda c: _scores(c, magnitude=[1e-3, 1e-2], min_size=max(2, _sizes(c)[0])), _agree,
                 skip=lambda c: "rows have length 1" if _sizes(c)[1] < 2 else None),
        Property("large_scores", f"matches refefl for |θ| up to {huge:g}", lambda c: large, _agree),
        Property("rows_of_length_one", "matches refefl on rows of length 1",
                 lambda c: _scores(c, min_size=1, max_size=1, magnitude=SCALES), _agree,
                 skip=lambda c: "the domain has no rows of length 1" if _sizes(c)[0] > 1 else None),
        Property("neg_inf_scores", "-inf scores give 0 there and leave the rest as without them",
                 lambda c: _scores(c, min_size=max(2, _sizes(c)[0] + 1), max_size=10, magnitude=SCALES, neg_inf=True), _neg_inf,
                 skip=lambda c: None if c.options["neg_inf"] else "the domain has no impossible coordinates"),
        Property("permutation_equivariant", "f(θ[π]) = f(θ)[π]",
                 lambda c: st.tuples(_scores(c, magnitude=SCALES), st.integers(0, 2**32 - 1)), _permutation),
        Property("shift_invariant", "f(θ + c) = f(θ)",
                 lambda c: st.tuples(_scores(c, magnitude=SCALES, ties=True), st.sampled_from([-4.0, -0.5, 2.0, 8.0])),
                 _shift, skip=lambda c: None if dom.shift_invariant else "the domain is not in a hyperplane Σy = c"),
        Property("batched", "a 2-D call equals the rows one by one",
                 lambda c: _scores(c, magnitude=SCALES, batch=4), _batched,
                 skip=lambda c: None if c.batched else "declared 1-D only (batched=False)"),
        Property("keeps_dtype", "the output has the input's dtype", lambda c: _scores(c), _keeps_dtype),
    ]


def _common(fn, dom: Domain, reference: Callable, *, dtype, axis, convert, batched, neg_inf, **options) -> Context:
    return make_context({"fn": fn}, dtype=dtype, axis=axis, convert=convert, batched=batched, domain=dom,
                        reference=reference, neg_inf=neg_inf, **options)


def prediction_map_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st  # noqa: F401

    return _map_properties(ctx) + [
        Property("fy_inequality", "⟨θ,ŷ⟩ − Ω(ŷ) ≥ ⟨θ,y⟩ − Ω(y) for feasible y (ŷ is the argmax)",
                 lambda c: _with_point(c, _scores(c, magnitude=SCALES)), _fy_inequality),
    ]


def projection_properties(ctx: Context) -> list[Property]:
    return _map_properties(ctx) + [
        Property("idempotent", "f(f(x)) = f(x)", lambda c: _scores(c, magnitude=SCALES), _idempotent),
        Property("projection_optimality", "⟨x − f(x), y − f(x)⟩ ≤ 0 for feasible y",
                 lambda c: _with_point(c, _scores(c, magnitude=SCALES)), _optimality),
    ]


def check_prediction_map(fn: Callable, regularizer="sparsemax", *, convert=None, dtype=np.float64,
                         examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1, batched: bool = True,
                         properties: list[str] | None = None, **params) -> CheckReport:
    r"""Property-test a regularized prediction map :math:`\hat y_\Omega(\theta) = \nabla\Omega^*(\theta)`.

    .. math::

        \hat y_\Omega(\theta) = \operatorname*{argmax}_{y \in C} \langle \theta, y\rangle - \Omega(y)

    ``fn`` maps scores of shape (n,) (and (m, n) unless ``batched=False``; the reduced axis is ``axis``) to ŷ.
    Properties: agreement with refefl's ``Regularizer.predict`` (at several scales, on ties, on supports larger
    than one, for |θ| up to 1e300 in float64 and 1e8 in float32, rows of length 1), feasibility, the
    Fenchel-Young inequality against feasible points, ``-inf`` scores, permutation equivariance, shift
    invariance (when C lies in a hyperplane), batching, dtype.

    Parameters
    ----------
    fn : callable
        The implementation, array in, array out (after ``convert``).
    regularizer : str or Regularizer
        Ω, a name for :func:`refefl.regularizer` (``params`` are passed on, e.g. ``alpha=1.5``) or an instance.
    convert : None, "numpy", "torch", "jax", callable or (callable, callable)
        Adapts NumPy inputs to the implementation's arrays (and back, by default ``numpy.asarray``).
    dtype : float32 or float64
    examples : int
        Hypothesis examples per property.
    seed : int
    axis : int
        The axis the implementation reduces on 2-D input (-1 or 0).
    properties : list of str or None
        Run only these properties.

    Returns
    -------
    CheckReport

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Prop. 1 (ŷ is the argmax,
    the Fenchel-Young inequality) and §4 (the maps).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import sparsemax
    >>> from refefl.testing import check_prediction_map
    >>> check_prediction_map(sparsemax, "sparsemax", examples=5).ok
    True
    >>> too_flat = lambda theta: sparsemax(np.asarray(theta) / 2)
    >>> report = check_prediction_map(too_flat, "sparsemax", examples=5)
    >>> print(report.ok, len(report.failures) > 0)
    False True
    """
    from refefl.regularizers import Regularizer, regularizer as make

    reg = regularizer if isinstance(regularizer, Regularizer) else make(regularizer, **params)
    dom = domain_of(reg)
    ctx = _common(fn, dom, reg.predict, dtype=dtype, axis=axis, convert=convert, batched=batched,
                  neg_inf=reg.allow_neg_inf and dom.name in ("simplex", "box"), regularizer=reg)
    return run_properties(f"prediction_map[{reg.name}]", target_name(fn), prediction_map_properties(ctx), ctx,
                          examples=examples, seed=seed, properties=properties)


def check_projection(fn: Callable, domain_name: str = "simplex", *, convert=None, dtype=np.float64,
                     examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1, batched: bool = True,
                     properties: list[str] | None = None, **params) -> CheckReport:
    r"""Property-test a Euclidean projection :math:`P_C(x) = \operatorname*{argmin}_{y\in C} \|y - x\|^2`.

    ``domain_name`` is ``"simplex"``, ``"box"`` ([0, 1]^n), ``"capped_simplex"`` (``s=``) or
    ``"permutahedron"`` (``w=``). Properties: those of :func:`check_prediction_map` (agreement with refefl's
    projection, feasibility, invariances, edge cases) plus idempotence and the variational inequality
    :math:`\langle x - P_C(x), y - P_C(x)\rangle \le 0` for every feasible y. Options as in
    :func:`check_prediction_map`.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §4.2 (sparse maps as
    Euclidean projections).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_simplex
    >>> from refefl.testing import check_projection
    >>> check_projection(projection_simplex, "simplex", examples=5).ok
    True
    >>> check_projection(lambda x: np.clip(x, 0.0, 1.0), "simplex", examples=5).ok
    False
    """
    dom = domain(domain_name, **params)
    ctx = _common(fn, dom, dom.project, dtype=dtype, axis=axis, convert=convert, batched=batched,
                  neg_inf=dom.name in ("simplex", "box"))
    return run_properties(f"projection[{dom.name}]", target_name(fn), projection_properties(ctx), ctx,
                          examples=examples, seed=seed, properties=properties)
