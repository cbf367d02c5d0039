"""Checks of Fenchel-Young losses L_Ω(θ; y) and generalized Fenchel-Young losses L^Φ_Ω(p; y)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._check_maps import SCALES
from refefl.testing._domains import domain_of
from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Context, Property, check_that, compare, make_context, run_properties, target_name,
)
from refefl.testing._report import CheckReport
from refefl.testing._finite_differences import directional_derivative

#: step of the central differences
_FD_EPS = 1e-6
#: margin that makes a one-hot target the sparse prediction (θ_y − θ_j ≥ 1/(α − 1) for α-entmax, α ≥ 1.5)
_MARGIN = 3.0


def _sizes(ctx):
    dom = ctx.options["domain"]
    return (dom.fixed_size or dom.min_size), (dom.fixed_size or max(2, dom.min_size, 8))


def _pairs(ctx, *, magnitude=SCALES, neg_inf=False, batch=None, min_size=None):
    """(θ, y): scores and a target (a one-hot vector or a point of the domain) of the same length."""
    from hypothesis import strategies as st

    from refefl.testing import strategies as S

    low, high = _sizes(ctx)
    low = max(low, min_size or low)
    thetas = S.scores(low, high, dtype=ctx.dtype, magnitude=magnitude, neg_inf=neg_inf, batch=batch)

    def with_target(theta):
        n = theta.shape[-1]
        rows = max(1, theta.size // n)
        finite = np.isfinite(theta.reshape(rows, n)).all(axis=0)
        one = S.one_hot(n) if ctx.options["targets"] == "onehot" else ctx.options["domain"].points(n, np.float64)
        y = st.lists(one, min_size=rows, max_size=rows).map(lambda ys: np.array(ys).reshape(theta.shape))
        if neg_inf:  # the target lives on the finite coordinates (else the loss is +inf)
            y = y.filter(lambda ys: bool(np.all(ys.reshape(rows, n)[:, ~finite] == 0)))
        return st.tuples(st.just(theta), y)

    return thetas.flatmap(with_target)


def _reference(ctx):
    from refefl.losses import FenchelYoungLoss

    return FenchelYoungLoss(ctx.options["regularizer"])


def _value_scale(theta) -> float:
    finite = np.asarray(theta, dtype=np.float64)[np.isfinite(theta)]
    return 1.0 + float(np.abs(finite).max(initial=0.0))


def _agree(ctx, example):
    theta, y = example
    expected = _reference(ctx).value(theta.astype(np.float64), y)
    compare(ctx.call("value", theta, y), expected, ctx, "loss vs refefl", atol_scale=_value_scale(theta))


def _near_optimum(ctx):
    """(θ, y) with y the prediction ŷ(θ) itself, a one-hot vector made optimal by a margin, or any target."""
    from hypothesis import strategies as st

    reg = ctx.options["regularizer"]

    def to_optimum(example):
        theta, y = example
        if ctx.options["targets"] == "onehot":
            return ((theta * 0.1 + _MARGIN * y).astype(ctx.dtype), y)
        return (theta, reg.predict(theta.astype(np.float64)))

    def generic(seed):
        """Scores with full mantissas at a random scale (Hypothesis favours short, exactly representable floats,
        at which the loss's rounding may never show), and their prediction or margin target."""
        rng = np.random.default_rng(seed)
        low, high = _sizes(ctx)
        n = int(rng.integers(low, high + 1))
        shape = (16, n) if ctx.batched else (n,)  # many rows per example when the implementation takes batches
        scale = 10.0 ** rng.uniform(-3, 3, size=shape[:-1] + (1,))
        theta = (rng.standard_normal(shape) * scale).astype(ctx.dtype)
        labels = rng.integers(n, size=shape[:-1])
        y = np.eye(n)[labels] if ctx.options["targets"] == "onehot" else theta
        return to_optimum((theta, y))

    return st.one_of(_pairs(ctx).map(to_optimum), _pairs(ctx), st.integers(0, 2**32 - 1).map(generic))


def _nonnegative(ctx, example):
    theta, y = example
    loss = ctx.call("value", theta, y)
    check_that(bool(np.all(loss >= 0)), "the loss is negative (L ≥ 0 by the Fenchel-Young inequality)",
               expected=0.0, got=loss)


def _zero_at_prediction(ctx, example):
    theta, y = example
    if ctx.options["targets"] == "onehot":
        theta = (theta * 0.1 + _MARGIN * y).astype(ctx.dtype)
    else:
        y = ctx.options["regularizer"].predict(theta.astype(np.float64))
    loss = ctx.call("value", theta, y)
    compare(loss, np.zeros_like(loss, dtype=np.float64), ctx, "L(θ; ŷ(θ))", atol_scale=10 * _value_scale(theta))


def _gradient(ctx, example):
    theta, y = example
    expected = ctx.options["regularizer"].predict(theta.astype(np.float64)) - y
    compare(ctx.call("grad", theta, y), expected, ctx, "gradient vs ŷ(θ) − y")


def _finite_differences(ctx, example):
    (theta, y), seed = example
    v = np.random.default_rng(seed).standard_normal(theta.shape)
    expected = float((ctx.options["regularizer"].predict(theta) - y) @ v)
    got = directional_derivative(lambda t: ctx.call("value", t, y), theta, v, eps=_FD_EPS)
    # L is C¹ but only piecewise C² (ŷ has kinks): across a kink the central difference is off by up to
    # ε‖v‖²/(2μ), the curvature of Ω* being at most 1/μ for a μ-strongly convex Ω (θ = 0, y = 0, v = 1.44 on the
    # box: 1.04e-6); when μ is unknown, the former allowance O(ε n) is all there is
    mu = ctx.options["regularizer"].strong_convexity
    kink = 0.0 if not mu else _FD_EPS * float(v @ v) / (2 * mu) / ctx.tol[1]
    compare(got, expected, ctx, "⟨∇L, v⟩ by central differences vs ⟨ŷ − y, v⟩", scale=1e4,
            atol_scale=1e6 * theta.shape[-1] + kink)


def _neg_inf(ctx, example):
    theta, y = example
    loss = ctx.call("value", theta, y)
    finite = np.isfinite(theta)
    check_that(bool(np.all(np.isfinite(loss))), "the loss is not finite with -inf on coordinates where y = 0",
               got=loss)
    expected = _reference(ctx).value(theta[finite].astype(np.float64), y[finite])
    compare(loss, expected, ctx, "loss vs refefl on the finite scores", atol_scale=_value_scale(theta))


def _shift(ctx, example):
    theta, y = example
    shifted = (theta + 4.0).astype(ctx.dtype)
    compare(ctx.call("value", shifted, y), ctx.call("value", theta, y), ctx, "L(θ + 4; y) vs L(θ; y)",
            scale=100, atol_scale=100 * _value_scale(shifted))


def _permutation(ctx, example):
    (theta, y), seed = example
    perm = np.random.default_rng(seed).permutation(theta.shape[-1])
    compare(ctx.call("value", theta[perm], y[perm]), ctx.call("value", theta, y), ctx, "L(θ[π]; y[π]) vs L(θ; y)",
            scale=10, atol_scale=10 * _value_scale(theta))


def _batched(ctx, example):
    theta, y = example
    rows = np.array([ctx.call("value", t, r) for t, r in zip(theta, y)]).reshape(-1)
    compare(ctx.call("value", theta, y).reshape(-1), rows, ctx, "2-D call vs row by row", scale=10,
            atol_scale=10 * _value_scale(theta))


def fy_loss_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st

    from refefl.testing.strategies import HUGE

    reg, dom = ctx.options["regularizer"], ctx.options["domain"]
    huge = HUGE[ctx.dtype]
    sparse_target = ctx.options["targets"] != "onehot" or reg.name != "shannon"
    with_seed = lambda c: st.tuples(_pairs(c), st.integers(0, 2**32 - 1))  # noqa: E731
    return [
        Property("agrees_with_refefl", "matches refefl's FenchelYoungLoss", _pairs, _agree),
        Property("nonnegative", "L(θ; y) ≥ 0, also at and near the optimum", _near_optimum, _nonnegative),
        Property("zero_at_prediction", "L(θ; ŷ(θ)) = 0", _pairs, _zero_at_prediction,
                 skip=lambda c: None if sparse_target else "softmax never reaches a one-hot target"),
        Property("gradient_is_prediction_minus_target", "∇L = ŷ(θ) − y", _pairs, _gradient,
                 skip=lambda c: None if "grad" in c.fns else "no grad_fn given"),
        Property("gradient_matches_finite_differences", "central differences of L along v = ⟨ŷ − y, v⟩",
                 with_seed, _finite_differences,
                 skip=lambda c: None if c.dtype == np.float64 else "finite differences need float64"),
        Property("large_scores", f"matches refefl for |θ| up to {huge:g}",
                 lambda c: _pairs(c, magnitude=[huge, huge / 3]), _agree),
        Property("neg_inf_scores", "-inf where y = 0 gives the loss of the finite scores",
                 lambda c: _pairs(c, neg_inf=True, min_size=max(2, _sizes(c)[0] + 1)), _neg_inf,
                 skip=lambda c: None if reg.allow_neg_inf and dom.name == "simplex" else "not a simplex domain"),
        Property("shift_invariant", "L(θ + c; y) = L(θ; y)", _pairs, _shift,
                 skip=lambda c: None if dom.shift_invariant else "the domain is not in a hyperplane Σy = c"),
        Property("permutation_invariant", "L(θ[π]; y[π]) = L(θ; y)", with_seed, _permutation),
        Property("batched", "a 2-D call equals the rows one by one", lambda c: _pairs(c, batch=4), _batched,
                 skip=lambda c: None if c.batched else "declared 1-D only (batched=False)"),
    ]


def check_fy_loss(value_fn: Callable, grad_fn: Callable | None = None, regularizer="sparsemax", *,
                  targets: str = "domain", convert=None, dtype=np.float64, examples: int = DEFAULT_EXAMPLES,
                  seed: int = 0, axis: int = -1, batched: bool = True, properties: list[str] | None = None,
                  **params) -> CheckReport:
    r"""Property-test a Fenchel-Young loss and, if given, its gradient.

    .. math::

        L_\Omega(\theta; y) = \Omega^*(\theta) + \Omega(y) - \langle\theta, y\rangle \ge 0, \qquad
        \nabla_\theta L_\Omega(\theta; y) = \hat y_\Omega(\theta) - y.

    ``value_fn(theta, y)`` returns the loss of each row (a scalar for 1-D input, shape (m,) for (m, n));
    ``grad_fn(theta, y)`` the gradient, of the shape of theta. ``targets`` is ``"domain"`` (any point of the
    domain of Ω) or ``"onehot"`` (class labels, for implementations that take labels). Properties: agreement
    with :class:`refefl.FenchelYoungLoss`, L ≥ 0 (exactly, also at the optimum), L = 0 at the prediction,
    ∇L = ŷ − y, central differences, |θ| up to 1e300 / 1e8, ``-inf`` scores where y = 0, shift and permutation
    invariance, batching. Other options as in :func:`refefl.testing.check_prediction_map`.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, Def. 2 and Prop. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import FenchelYoungLoss, regularizer
    >>> from refefl.testing import check_fy_loss
    >>> loss = FenchelYoungLoss(regularizer("sparsemax"))
    >>> check_fy_loss(loss.value, loss.grad, "sparsemax", examples=5).ok
    True
    """
    from refefl.regularizers import Regularizer, regularizer as make

    if targets not in ("domain", "onehot"):
        raise ValueError(f"targets must be 'domain' or 'onehot', got {targets!r}")
    reg = regularizer if isinstance(regularizer, Regularizer) else make(regularizer, **params)
    ctx = make_context({"value": value_fn, "grad": grad_fn}, dtype=dtype, axis=axis, convert=convert,
                       batched=batched, regularizer=reg, domain=domain_of(reg), targets=targets)
    return run_properties(f"fy_loss[{reg.name}]", target_name(value_fn), fy_loss_properties(ctx), ctx,
                          examples=examples, seed=seed, properties=properties)
