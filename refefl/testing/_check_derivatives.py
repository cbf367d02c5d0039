"""Checks of Jacobian-vector and vector-Jacobian products against central differences and refefl's JVPs."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._check_maps import SCALES
from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Context, Property, compare, make_context, run_properties, target_name,
)
from refefl.testing._finite_differences import directional_derivative
from refefl.testing._report import CheckReport

_EPS = 1e-6


def _isotonic_jvp(x, v, increasing=True):
    """J v of unweighted isotonic regression: v averaged over each block of the fit."""
    from refefl.projections import isotonic_regression

    starts = isotonic_regression(x, increasing=increasing, return_blocks=True, backend="numpy").blocks()
    out = np.empty_like(v, dtype=np.float64)
    for lo, hi in zip(starts[:-1], starts[1:]):
        out[lo:hi] = np.mean(v[lo:hi])
    return out


def refefl_jvp(name: str) -> Callable:
    """refefl's JVP ``(x, v) -> J(x) v`` for a kind name: a regularizer name (``"sparsemax"``, ``"shannon"``,
    ``"tsallis"`` at α = 1.5, ...), ``"isotonic"``, ``"soft_rank"`` or ``"soft_sort"`` (l2, strength 1).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.testing import refefl_jvp
    >>> jvp = refefl_jvp("sparsemax")
    >>> jvp(np.array([1.0, 0.5, -1.0]), np.array([1.0, 0.0, 0.0]))
    array([ 0.5, -0.5,  0. ])
    """
    from refefl.projections import soft_rank_jvp, soft_sort_jvp
    from refefl.regularizers import regularizer

    if name == "isotonic":
        return _isotonic_jvp
    if name == "soft_rank":
        return lambda x, v: soft_rank_jvp(x, v, backend="numpy")
    if name == "soft_sort":
        return lambda x, v: soft_sort_jvp(x, v, backend="numpy")
    reg = regularizer(name, alpha=1.5) if name == "tsallis" else regularizer(name)
    return reg.jvp


def _points(ctx, *, batch=None):
    from hypothesis import strategies as st

    from refefl.testing import strategies as S

    low = ctx.options["min_size"]
    xs = S.scores(low, max(low, 8), dtype=ctx.dtype, magnitude=SCALES, batch=batch)
    return xs.flatmap(lambda x: st.tuples(st.just(x), st.integers(0, 2**32 - 1)))


def _direction(x, seed):
    return np.random.default_rng(seed).standard_normal(np.shape(x))


def _fd_or_reject(ctx, x, v):
    """Central difference of fn along v in float64; rejects points where the one-sided differences disagree (a
    kink: there J v is not defined, and any element of the generalized Jacobian is a right answer)."""
    from hypothesis import assume

    f = lambda z: ctx.call("fn", z, dtype=np.float64).astype(np.float64)  # noqa: E731
    x = x.astype(np.float64)
    f0 = f(x)
    forward, backward = (f(x + _EPS * v) - f0) / _EPS, (f0 - f(x - _EPS * v)) / _EPS
    assume(np.allclose(forward, backward, rtol=1e-3, atol=1e-4))
    return directional_derivative(f, x, v, eps=_EPS)


def _jvp_fd(ctx, example):
    x, seed = example
    v = _direction(x, seed)
    compare(ctx.call("jvp", x, v), _fd_or_reject(ctx, x, v), ctx, "J v vs central differences", scale=1e4)


def _jvp_linear(ctx, example):
    x, seed = example
    v, w = _direction(x, seed), _direction(x, seed + 1)
    expected = 2.0 * ctx.call("jvp", x, v) - 0.5 * ctx.call("jvp", x, w)
    compare(ctx.call("jvp", x, 2.0 * v - 0.5 * w), expected, ctx, "J(2v − w/2) vs 2Jv − Jw/2", scale=100)


def _jvp_ref(ctx, example):
    x, seed = example
    v = _direction(x, seed)
    _fd_or_reject(ctx, x, v)
    compare(ctx.call("jvp", x, v), ctx.options["reference"](x.astype(np.float64), v), ctx, "J v vs refefl")


def _close_blocks_jvp(ctx, example):
    x, seed = example
    v = _direction(x, seed)
    compare(ctx.call("jvp", x, v), ctx.options["reference"](x, v), ctx, "J v vs refefl on blocks 5e-10 apart")


def _jvp_batched(ctx, example):
    x, seed = example
    v = _direction(x, seed)
    rows = np.stack([ctx.call("jvp", a, b) for a, b in zip(x, v)])
    compare(ctx.call("jvp", x, v), rows, ctx, "2-D call vs row by row", scale=10)


def _vjp_fd(ctx, example):
    x, seed = example
    u, v = _direction(x, seed), _direction(x, seed + 1)
    got = float(ctx.call("vjp", x, u).astype(np.float64) @ v)
    compare(got, float(u @ _fd_or_reject(ctx, x, v)), ctx, "⟨Jᵀu, v⟩ vs ⟨u, central differences⟩", scale=1e4)


def _vjp_ref(ctx, example):
    x, seed = example
    u = _direction(x, seed)
    for e in np.eye(len(x)):  # the whole Jacobian is compared: off kinks along every coordinate
        _fd_or_reject(ctx, x, e)
    basis = np.eye(len(x))
    jacobian = np.stack([ctx.options["reference"](x.astype(np.float64), e) for e in basis], axis=1)
    compare(ctx.call("vjp", x, u), jacobian.T @ u, ctx, "Jᵀu vs refefl's Jacobian transposed")


def _vjp_close(ctx, example):
    x, seed = example
    u = _direction(x, seed)
    jacobian = np.stack([ctx.options["reference"](x, e) for e in np.eye(len(x))], axis=1)
    compare(ctx.call("vjp", x, u), jacobian.T @ u, ctx, "Jᵀu vs refefl on blocks 5e-10 apart")


def _derivative_properties(ctx: Context, which: str) -> list[Property]:
    from hypothesis import strategies as st

    from refefl.testing import strategies as S

    no_ref = lambda c: None if "reference" in c.options else "no refefl reference given"  # noqa: E731
    close = lambda c: S.close_blocks().flatmap(lambda x: st.tuples(st.just(x), st.integers(0, 2**32 - 1)))  # noqa
    close_skip = lambda c: (no_ref(c) or (None if c.options.get("close_blocks") else  # noqa: E731
                            "no PAV blocks in this map") or (None if c.dtype == np.float64 else "needs float64"))
    fd_skip = lambda c: None if c.dtype == np.float64 else "finite differences need float64"  # noqa: E731
    if which == "jvp":
        return [
            Property("matches_finite_differences", "J v = central differences of fn along v (off kinks)",
                     _points, _jvp_fd, skip=fd_skip),
            Property("linear_in_v", "J(av + bw) = aJv + bJw", _points, _jvp_linear),
            Property("matches_refefl", "J v equals refefl's JVP", _points, _jvp_ref, skip=no_ref),
            Property("close_blocks", "J v equals refefl's where PAV blocks are 5e-10 apart", close,
                     _close_blocks_jvp, skip=close_skip),
            Property("batched", "a 2-D call equals the rows one by one", lambda c: _points(c, batch=3),
                     _jvp_batched, skip=lambda c: None if c.batched else "declared 1-D only (batched=False)"),
        ]
    return [
        Property("matches_finite_differences", "⟨Jᵀu, v⟩ = ⟨u, central differences along v⟩", _points, _vjp_fd,
                 skip=fd_skip),
        Property("matches_refefl", "Jᵀu equals refefl's Jacobian transposed", _points, _vjp_ref, skip=no_ref),
        Property("close_blocks", "Jᵀu equals refefl's where PAV blocks are 5e-10 apart", close, _vjp_close,
                 skip=close_skip),
    ]


def _check(which, fn, derivative_fn, reference, *, convert, dtype, examples, seed, axis, batched, properties,
           min_size):
    options = {"min_size": int(min_size)}
    if reference is not None:
        options["reference"] = refefl_jvp(reference) if isinstance(reference, str) else reference
        options["close_blocks"] = reference in ("isotonic", "soft_rank", "soft_sort")
    ctx = make_context({"fn": fn, which: derivative_fn}, dtype=dtype, axis=axis, convert=convert, batched=batched,
                       **options)
    return run_properties(which, target_name(derivative_fn), _derivative_properties(ctx, which), ctx,
                          examples=examples, seed=seed, properties=properties)


def check_jvp(fn: Callable, jvp_fn: Callable, reference: str | Callable | None = None, *, convert=None,
              dtype=np.float64, examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1,
              batched: bool = True, min_size: int = 1, properties: list[str] | None = None) -> CheckReport:
    r"""Property-test a Jacobian-vector product :math:`v \mapsto \partial f(x)\, v`.

    .. math::

        \partial f(x)\, v = \lim_{\epsilon\to 0} \frac{f(x + \epsilon v) - f(x - \epsilon v)}{2\epsilon}

    ``jvp_fn(x, v)`` returns J(x) v, of the shape of x. ``reference`` is refefl's JVP to compare with: a name
    for :func:`refefl_jvp` (``"sparsemax"``, ``"isotonic"``, ``"soft_rank"``, ...) or a callable ``(x, v)``.
    Properties: central differences (float64, points where f has a kink along v are rejected), linearity in v,
    agreement with the reference, agreement where PAV blocks are 5e-10 apart (PAV-based maps), batching.
    ``min_size`` is the shortest row the map accepts (e.g. s for the capped simplex).

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §4 (Jacobians of the
    regularized predictions); Blondel et al. (2020), "Fast Differentiable Sorting and Ranking", ICML, §5.

    Examples
    --------
    >>> from refefl.projections import soft_rank, soft_rank_jvp
    >>> from refefl.testing import check_jvp
    >>> check_jvp(soft_rank, soft_rank_jvp, examples=5).ok
    True
    """
    return _check("jvp", fn, jvp_fn, reference, convert=convert, dtype=dtype, examples=examples, seed=seed,
                  axis=axis, batched=batched, properties=properties, min_size=min_size)


def check_vjp(fn: Callable, vjp_fn: Callable, reference: str | Callable | None = None, *, convert=None,
              dtype=np.float64, examples: int = DEFAULT_EXAMPLES, seed: int = 0, axis: int = -1,
              batched: bool = True, min_size: int = 1, properties: list[str] | None = None) -> CheckReport:
    r"""Property-test a vector-Jacobian product :math:`u \mapsto \partial f(x)^\top u`.

    ``vjp_fn(x, u)`` returns J(x)ᵀu. Properties: :math:`\langle J^\top u, v\rangle` equals u against central
    differences along v (float64), agreement with the transpose of refefl's Jacobian (built from its JVP, see
    :func:`check_jvp` for ``reference``), and where PAV blocks are 5e-10 apart.

    References
    ----------
    Blondel et al. (2020), "Fast Differentiable Sorting and Ranking", ICML, §5 (the Jacobians of PAV).

    Examples
    --------
    >>> from refefl.projections import soft_sort, soft_sort_vjp
    >>> from refefl.testing import check_vjp
    >>> check_vjp(soft_sort, soft_sort_vjp, examples=5).ok
    True
    """
    return _check("vjp", fn, vjp_fn, reference, convert=convert, dtype=dtype, examples=examples, seed=seed,
                  axis=axis, batched=batched, properties=properties, min_size=min_size)
