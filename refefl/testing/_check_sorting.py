"""Checks of isotonic regression and of soft ranks and soft sorts (projections onto permutahedra)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._check_maps import SCALES
from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Context, Property, check_that, compare, make_context, run_properties, target_name,
)
from refefl.testing._report import CheckReport


def _vectors(ctx, *, magnitude=SCALES, ties=False, min_size=1, max_size=10, batch=None):
    from refefl.testing import strategies as S

    return S.scores(min_size, max_size, dtype=ctx.dtype, magnitude=magnitude, ties=ties, batch=batch)


def _reference(ctx, x):
    return ctx.options["reference"](np.asarray(x, dtype=np.float64))


def _agree(ctx, x, *, scale=1.0):
    compare(ctx.call("fn", x), _reference(ctx, x), ctx, "output vs refefl", scale=scale)


def _batched(ctx, x):
    rows = np.stack([ctx.call("fn", row) for row in x])
    compare(ctx.call("fn", x), rows, ctx, "2-D call vs row by row", scale=10)


def _keeps_dtype(ctx, x):
    got = ctx.call("fn", x)
    check_that(got.dtype == ctx.dtype, f"{ctx.dtype} input gave {got.dtype} output")


def _common(ctx: Context, huge: float) -> list[Property]:
    return [
        Property("agrees_with_refefl", "matches refefl at every scale", _vectors, _agree),
        Property("ties", "matches refefl on tied inputs", lambda c: _vectors(c, ties=True), _agree),
        Property("large_scores", f"matches refefl for |x| up to {huge:g}",
                 lambda c: _vectors(c, magnitude=[huge, huge / 3]), _agree),
        Property("rows_of_length_one", "matches refefl on rows of length 1",
                 lambda c: _vectors(c, min_size=1, max_size=1), _agree),
        Property("batched", "a 2-D call equals the rows one by one", lambda c: _vectors(c, batch=4), _batched,
                 skip=lambda c: None if c.batched else "declared 1-D only (batched=False)"),
        Property("keeps_dtype", "the output has the input's dtype", _vectors, _keeps_dtype),
    ]


# -- isotonic regression ----------------------------------------------------------------------------------------
def _monotone(ctx, x):
    v = ctx.call("fn", x).astype(np.float64)
    steps = np.diff(v) if ctx.options["increasing"] else -np.diff(v)
    check_that(bool(np.all(steps >= -ctx.tol[0] * (1 + np.abs(v[1:])))), "the fit is not monotone", got=v)


def _idempotent(ctx, x):
    v = ctx.call("fn", x)
    compare(ctx.call("fn", v), v, ctx, "f(f(y)) vs f(y)", scale=10)


def _optimality(ctx, example):
    x, z = example
    v = ctx.call("fn", x).astype(np.float64)
    inner = float((x.astype(np.float64) - v) @ (z - v))
    slack = 10 * ctx.tol[0] * (1 + np.abs(x).max()) * (1 + np.abs(z - v).sum())
    check_that(inner <= slack, "⟨y − f(y), z − f(y)⟩ > 0 for a monotone z: f(y) is not the nearest", 0.0, inner)


def _shift(ctx, example):
    x, c = example
    compare(ctx.call("fn", (x + c).astype(ctx.dtype)), ctx.call("fn", x) + c, ctx, f"f(y + {c}) vs f(y) + {c}",
            scale=100)


def _close_blocks(ctx, x):
    # a strictly monotone input is its own fit, exactly up to rounding: a tolerance 100× tighter than elsewhere
    compare(ctx.call("fn", x.astype(ctx.dtype)), x, ctx, "fit of a monotone vector vs itself", scale=1e-2)


def isotonic_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st

    from refefl.testing import strategies as S

    inc = ctx.options["increasing"]
    return _common(ctx, S.HUGE[ctx.dtype]) + [
        Property("monotone", "the fit is monotone", _vectors, _monotone),
        Property("idempotent", "f(f(y)) = f(y)", _vectors, _idempotent),
        Property("projection_optimality", "⟨y − f(y), z − f(y)⟩ ≤ 0 for every monotone z",
                 lambda c: _vectors(c).flatmap(lambda x: st.tuples(
                     st.just(x), S.monotone_points(len(x), increasing=inc))), _optimality),
        Property("shift_equivariant", "f(y + c) = f(y) + c",
                 lambda c: st.tuples(_vectors(c, ties=True), st.sampled_from([-4.0, 0.5, 8.0])), _shift),
        Property("close_blocks", "a monotone vector with neighbours 5e-10 apart is its own fit",
                 lambda c: S.close_blocks(increasing=inc), _close_blocks,
                 skip=lambda c: None if c.dtype == np.float64 else "5e-10 gaps need float64"),
    ]


def check_isotonic(fn: Callable, *, increasing: bool = True, convert=None, dtype=np.float64,
                   examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1, batched: bool = True,
                   properties: list[str] | None = None) -> CheckReport:
    r"""Property-test an (unweighted) isotonic regression.

    .. math::

        f(y) = \operatorname*{argmin}_{v_1 \le v_2 \le \dots \le v_n} \|v - y\|^2 \quad (\ge \text{ if not increasing})

    ``fn`` maps y of shape (n,) (and (m, n) unless ``batched=False``) to the fit. Properties: agreement with
    :func:`refefl.isotonic_regression` (scales, ties, |y| up to 1e300 / 1e8, rows of length 1), monotonicity,
    idempotence, the variational inequality against monotone points, shift equivariance, exactness on monotone
    vectors whose neighbours are 5e-10 apart, batching, dtype. Options as in
    :func:`refefl.testing.check_prediction_map`.

    References
    ----------
    Best, Chakravarti (1990), "Active set algorithms for isotonic regression; a unifying framework",
    Math. Programming 47 (the pool-adjacent-violators algorithm and its optimality conditions).

    Examples
    --------
    >>> from refefl.projections import isotonic_regression
    >>> from refefl.testing import check_isotonic
    >>> check_isotonic(isotonic_regression, examples=5).ok
    True
    """
    from refefl.projections import isotonic_regression

    ctx = make_context({"fn": fn}, dtype=dtype, axis=axis, convert=convert, batched=batched,
                       increasing=bool(increasing),
                       reference=lambda y: isotonic_regression(y, increasing=increasing, backend="numpy"))
    return run_properties("isotonic", target_name(fn), isotonic_properties(ctx), ctx, examples=examples,
                          seed=seed, properties=properties)


# -- soft rank and soft sort ------------------------------------------------------------------------------------
def _hard_limit(ctx, x):
    hard = ctx.options["hard"](x.astype(np.float64))
    sharp = ctx.options["at_strength"](1e-6)
    got = np.asarray(ctx.to_numpy(sharp(ctx.to_impl(np.ascontiguousarray(x, dtype=ctx.dtype)))))
    compare(got, hard, ctx, "output at strength 1e-6 vs the hard answer",
            scale=1e3)


def _permutation(ctx, example):
    x, seed = example
    perm = np.random.default_rng(seed).permutation(len(x))
    expected = ctx.call("fn", x)[perm] if ctx.options["equivariant"] else ctx.call("fn", x)
    compare(ctx.call("fn", x[perm]), expected, ctx, "f(θ[π]) vs f(θ)" + ("[π]" * ctx.options["equivariant"]),
            scale=10)


def _shift_soft(ctx, example):
    x, c = example
    expected = ctx.call("fn", x) + (0.0 if ctx.options["equivariant"] else c)
    compare(ctx.call("fn", (x + c).astype(ctx.dtype)), expected, ctx, f"f(θ + {c})", scale=100)


def soft_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st

    from refefl.testing import strategies as S

    separated = lambda c: _vectors(c, magnitude=[1.0, 10.0]).filter(  # noqa: E731
        lambda x: len(x) < 2 or np.diff(np.sort(x)).min() > 1e-2)
    shift_ok = ctx.options["equivariant"] or ctx.options["regularization"] == "l2"
    return _common(ctx, S.HUGE[ctx.dtype]) + [
        Property("hard_limit", "tends to the hard rank/sort as the strength goes to 0", separated, _hard_limit,
                 skip=lambda c: None if "at_strength" in c.options else "no strength to vary"),
        Property("permutation_" + ("equivariant" if ctx.options["equivariant"] else "invariant"),
                 "ranks follow a permutation of θ; sorts ignore it",
                 lambda c: st.tuples(_vectors(c), st.integers(0, 2**32 - 1)), _permutation),
        Property("shift_" + ("invariant" if ctx.options["equivariant"] else "equivariant"),
                 "ranks ignore θ + c; l2 sorts move by c",
                 lambda c: st.tuples(_vectors(c, ties=True), st.sampled_from([-4.0, 0.5, 8.0])), _shift_soft,
                 skip=lambda c: None if shift_ok else "the KL soft sort is not shift equivariant"),
    ]


def _check_soft(fn, which, *, strength, regularization, strength_keyword, **kwargs) -> CheckReport:
    from refefl.projections import soft_rank, soft_sort

    if regularization not in ("l2", "kl"):
        raise ValueError(f"regularization must be 'l2' or 'kl', got {regularization!r}")
    ref = soft_rank if which == "soft_rank" else soft_sort
    hard = (lambda x: np.argsort(np.argsort(x)) + 1.0) if which == "soft_rank" else np.sort
    options = dict(reference=lambda x: ref(x, strength=strength, regularization=regularization, backend="numpy"),
                   hard=hard, equivariant=which == "soft_rank", regularization=regularization)
    if strength_keyword:
        options["at_strength"] = lambda eps: lambda x: fn(x, **{strength_keyword: eps})
    props, examples, seed = kwargs.pop("properties"), kwargs.pop("examples"), kwargs.pop("seed")
    ctx = make_context({"fn": fn}, **kwargs, **options)
    return run_properties(f"{which}[{regularization}]", target_name(fn), soft_properties(ctx), ctx,
                          examples=examples, seed=seed, properties=props)


def check_soft_rank(fn: Callable, regularization: str = "l2", *, strength: float = 1.0,
                    strength_keyword: str | None = None, convert=None, dtype=np.float64,
                    examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1, batched: bool = True,
                    properties: list[str] | None = None) -> CheckReport:
    r"""Property-test soft ranks (ascending: the largest score gets rank n).

    .. math::

        r_\varepsilon(\theta) = \operatorname*{argmin}_{\mu \in P(\rho)} \|\mu - \theta/\varepsilon\|^2
        \quad (\text{l2}), \qquad \rho = (n, n-1, \dots, 1)

    ``fn(theta)`` computes soft ranks at ``strength`` ε with ``regularization`` ("l2" or "kl");
    ``strength_keyword`` names its strength argument, which enables the hard-limit property. Properties:
    agreement with :func:`refefl.soft_rank` (scales, ties, |θ| up to 1e300 / 1e8, rows of length 1), the hard
    limit, permutation equivariance, shift invariance, batching, dtype.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, §3 (Eq. 5-6).

    Examples
    --------
    >>> from functools import partial
    >>> from refefl.projections import soft_rank
    >>> from refefl.testing import check_soft_rank
    >>> check_soft_rank(partial(soft_rank, regularization="kl"), "kl", strength_keyword="strength", examples=5).ok
    True
    >>> check_soft_rank(soft_rank, "kl", examples=5).ok  # the default regularization is "l2"
    False
    """
    return _check_soft(fn, "soft_rank", strength=strength, regularization=regularization,
                       strength_keyword=strength_keyword, convert=convert, dtype=dtype, examples=examples,
                       seed=seed, axis=axis, batched=batched, properties=properties)


def check_soft_sort(fn: Callable, regularization: str = "l2", *, strength: float = 1.0,
                    strength_keyword: str | None = None, convert=None, dtype=np.float64,
                    examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1, batched: bool = True,
                    properties: list[str] | None = None) -> CheckReport:
    r"""Property-test soft sorts (ascending).

    .. math::

        s_\varepsilon(\theta) = \operatorname*{argmin}_{\mu \in P(\theta)} \|\mu - \rho/\varepsilon\|^2 \quad (\text{l2})

    Properties: agreement with :func:`refefl.soft_sort`, the hard limit, permutation invariance, shift
    equivariance (l2), batching, dtype. Options as in :func:`check_soft_rank`.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, §3 (Eq. 5-6).

    Examples
    --------
    >>> from functools import partial
    >>> from refefl.projections import soft_sort
    >>> from refefl.testing import check_soft_sort
    >>> sort_at_half = partial(soft_sort, strength=0.5)
    >>> check_soft_sort(sort_at_half, "l2", strength=0.5, strength_keyword="strength", examples=5).ok
    True
    """
    return _check_soft(fn, "soft_sort", strength=strength, regularization=regularization,
                       strength_keyword=strength_keyword, convert=convert, dtype=dtype, examples=examples,
                       seed=seed, axis=axis, batched=batched, properties=properties)
