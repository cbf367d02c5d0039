r"""Checks of a generalized Fenchel-Young loss :math:`L(\theta, A; y)` of the quadratic energy on the box.

The energy is Φ(y; θ, A) = ⟨y, θ⟩ + ½⟨y, Ay⟩ (:class:`refefl.energies.Quadratic`), Ω is μ-strongly convex on
[0, 1]^k (binary negentropy, μ = 4, or ½‖·‖², μ = 1), and A is drawn in K = {A = Aᵀ, diag A = 0, λ_max(A) ≤ μ/2}
(docs/fenchel_young.md §2.9), where F = Φ − Ω is (μ/2)-strongly concave: ŷ is unique, refefl's coordinate ascent
run to 1e-13 gives the exact conjugate, and every fact of docs/fenchel_young.md §2–§2.7 can be checked.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refefl.testing._engine import (
    DEFAULT_EXAMPLES, Context, Property, check_that, compare, make_context, run_properties, target_name,
)
from refefl.testing._report import CheckReport

#: regularizers whose conjugate refefl computes exactly for A in K (coordinate ascent, docs/fenchel_young.md §2.9)
REGULARIZERS = ("binary_entropy", "box_squared")
#: step of the central differences (float64 only)
_FD_EPS = 1e-6
#: score scales drawn (the loss's terms grow with |θ|; 10 already saturates σ and the clip)
_SCALES = [0.1, 1.0, 10.0]


def _pairwise(k: int, c: float, fraction: float, entries: np.ndarray) -> np.ndarray:
    """A symmetric, zero-diagonal A built from ``entries`` (k, k) and scaled to λ_max(A) = fraction · c."""
    b = np.triu(entries, 1)
    b = b + b.T
    top = float(np.linalg.eigvalsh(b)[-1]) if k > 1 else 0.0  # trace 0, so λ_max ≥ 0
    # entries of Hypothesis' subnormal scale would make c / top overflow: such a b is A = 0 up to rounding
    return b * (fraction * c / top) if top > 1e-6 else np.zeros_like(b)


def _examples(ctx: Context, *, max_rows: int = 4):
    """(θ (n, k), A (k, k), y (n, k)): scores, a pairwise matrix in K and targets in the box (corners too)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from refefl.testing import strategies as S

    width = np.dtype(ctx.dtype).itemsize * 8
    unit = st.floats(-1, 1, allow_nan=False, width=width)
    c = ctx.options["regularizer"].strong_convexity / 2

    def draw(shape):
        n, k = shape
        theta = st.tuples(hnp.arrays(np.float64, (n, k), elements=unit), st.sampled_from(_SCALES)).map(
            lambda t: t[0] * t[1])
        a = st.tuples(hnp.arrays(np.float64, (k, k), elements=unit), st.sampled_from([0.0, 0.5, 1.0])).map(
            lambda t: _pairwise(k, c, t[1], t[0]))
        y = st.lists(S.box_points(k), min_size=n, max_size=n).map(np.array)
        return st.tuples(theta, a, y).map(lambda ex: tuple(x.astype(ctx.dtype) for x in ex))

    return st.tuples(st.integers(1, max_rows), st.integers(1, 6)).flatmap(draw)


def _reference(ctx: Context):
    from refefl.energies import Quadratic
    from refefl.losses import GeneralizedFenchelYoungLoss
    from refefl.maximizers import CoordinateAscent

    return GeneralizedFenchelYoungLoss(Quadratic(), ctx.options["regularizer"],
                                       CoordinateAscent(max_iter=20000, tol=1e-13, backend="numpy"))


def _exact(ctx: Context, theta, a, y):
    """refefl's exact solution in float64: (L, ŷ)."""
    solution = _reference(ctx).solve(tuple(np.asarray(x, dtype=np.float64) for x in (theta, a)),
                                     np.asarray(y, dtype=np.float64))
    return solution.value, solution.y_hat


def _objective(ctx: Context, theta, a, y) -> np.ndarray:
    """F(y) = ⟨y, θ⟩ + ½⟨y, Ay⟩ − Ω(y) per row, in float64."""
    theta, a, y = (np.asarray(x, dtype=np.float64) for x in (theta, a, y))
    return (y * theta).sum(-1) + 0.5 * np.einsum("ni,ij,nj->n", y, a, y) - ctx.options["regularizer"].value(y)


def _scale(ctx: Context, theta, a) -> float:
    """1 + the largest size of the terms of F on the box, Σ|θ_j| + ½Σ|A_ij| + k Ω_max: the value's rounding."""
    theta, a = np.asarray(theta, dtype=np.float64), np.asarray(a, dtype=np.float64)
    k = theta.shape[-1]
    return 1.0 + float(np.abs(theta).sum(-1).max() + 0.5 * np.abs(a).sum() + k)


def _value_tol(ctx: Context, theta, a, losses) -> np.ndarray:
    """The tolerance of a loss value: the dtype's (rtol, atol) with atol times :func:`_scale`."""
    rtol, atol = ctx.tol
    return atol * _scale(ctx, theta, a) + rtol * np.abs(losses)


def _value(ctx: Context, theta, a, y) -> np.ndarray:
    return ctx.call("value", theta, a, y, row_axis=False).reshape(-1)


def _grad(ctx: Context, theta, a, y) -> tuple[np.ndarray, np.ndarray]:
    out = ctx.fns["grad"](*(ctx.to_impl(np.ascontiguousarray(x)) for x in (theta, a, y)))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"grad_fn must return the pair (grad_theta, grad_A), got {type(out).__name__}")
    return tuple(np.asarray(ctx.to_numpy(g), dtype=np.float64) for g in out)


def _danskin(y_hat, y) -> tuple[np.ndarray, np.ndarray]:
    """∇_θΦ(ŷ) − ∇_θΦ(y) = ŷ − y and ∇_AΦ(ŷ) − ∇_AΦ(y) = ½Σ_i(ŷ_iŷ_iᵀ − y_iy_iᵀ) (docs/fenchel_young.md §2.3)."""
    y = np.asarray(y, dtype=np.float64)
    return y_hat - y, 0.5 * (np.einsum("ni,nj->ij", y_hat, y_hat) - np.einsum("ni,nj->ij", y, y))


def _agree(ctx, example):
    theta, a, y = example
    expected, _ = _exact(ctx, theta, a, y)
    compare(_value(ctx, theta, a, y), expected, ctx, "loss vs refefl's exact generalized FY loss",
            atol_scale=_scale(ctx, theta, a))


def _below_exact(ctx, example):
    theta, a, y = example
    expected, _ = _exact(ctx, theta, a, y)
    got = _value(ctx, theta, a, y)
    check_that(bool(np.all(got <= expected + _value_tol(ctx, theta, a, expected))),
               "the loss exceeds the exact loss: an inner solver's F(ỹ) can never exceed max_C F "
               "(is ỹ outside C, or an upper bound reported as the maximum?)", expected=expected, got=got)


def _near_optimum(ctx):
    """(θ, A, y) with y = ŷ(θ, A), y a hair from ŷ, or any target; also seeded full-mantissa draws."""
    from hypothesis import strategies as st

    def to_optimum(example, nudge=0.0, seed=0):
        theta, a, y = example
        _, y_hat = _exact(ctx, theta, a, y)
        if nudge:
            y_hat = np.clip(y_hat + nudge * np.random.default_rng(seed).standard_normal(y_hat.shape), 0, 1)
        return theta, a, y_hat.astype(ctx.dtype)

    def generic(seed):
        rng = np.random.default_rng(seed)
        n, k = 16, int(rng.integers(1, 7))
        theta = rng.standard_normal((n, k)) * 10.0 ** rng.uniform(-2, 1, size=(n, 1))
        a = _pairwise(k, ctx.options["regularizer"].strong_convexity / 2, rng.uniform(),
                      rng.standard_normal((k, k)))
        return to_optimum((theta.astype(ctx.dtype), a.astype(ctx.dtype), np.zeros((n, k), ctx.dtype)))

    seeds = st.integers(0, 2**32 - 1)
    return st.one_of(_examples(ctx).map(to_optimum), _examples(ctx),
                     st.tuples(_examples(ctx), seeds).map(lambda t: to_optimum(t[0], 1e-6, t[1])),
                     seeds.map(generic))


def _nonnegative(ctx, example):
    got = _value(ctx, *example)
    check_that(bool(np.all(got >= 0)), "the loss is negative (L = max_C F − F(y) ≥ 0; clip, or use y as ŷ where "
               "F(y) ≥ F(ŷ))", expected=0.0, got=got)


def _zero_at_prediction(ctx, example):
    theta, a, y = example
    _, y_hat = _exact(ctx, theta, a, y)
    y_hat = y_hat.astype(ctx.dtype)
    got = _value(ctx, theta, a, y_hat)
    compare(got, np.zeros_like(got), ctx, "L(θ, A; ŷ(θ, A))", atol_scale=10 * _scale(ctx, theta, a))


def _gradient_danskin(ctx, example):
    r"""∇L vs Danskin's gradient at the exact ŷ. The gradient carries the solver's error in ŷ, to first order: F
    is (μ/2)-strongly concave, so a ỹ with F(ŷ) − F(ỹ) ≤ η (the value tolerance that ``agrees_with_refefl``
    grants) has ‖ỹ − ŷ‖₂ ≤ √(4η/μ) per row; ‖ỹỹᵀ − ŷŷᵀ‖_F ≤ 2√k‖ỹ − ŷ‖₂ bounds the A part."""
    theta, a, y = example
    expected_loss, y_hat = _exact(ctx, theta, a, y)
    g_theta, g_a = _grad(ctx, theta, a, y)
    e_theta, e_a = _danskin(y_hat, y)
    check_that(g_theta.shape == e_theta.shape and g_a.shape == e_a.shape,
               f"gradient shapes {g_theta.shape}, {g_a.shape}, expected {e_theta.shape}, {e_a.shape}")
    eta = _value_tol(ctx, theta, a, expected_loss)  # per row
    radius = np.sqrt(4 * eta / ctx.options["regularizer"].strong_convexity)
    rounding = 10 * ctx.tol[1] * (1 + np.abs(e_theta))
    off_theta = np.linalg.norm(g_theta - e_theta, axis=-1)
    check_that(bool(np.all(off_theta <= radius + np.linalg.norm(rounding, axis=-1))),
               "∇_θL differs from Danskin's ∇_θΦ(ŷ) − ∇_θΦ(y) = ŷ − y beyond the solver accuracy the value allows",
               expected=e_theta, got=g_theta)
    k = theta.shape[-1]
    bound_a = float(np.sum(np.sqrt(k) * radius)) + 10 * ctx.tol[1] * (1 + np.abs(e_a).max())
    check_that(bool(np.linalg.norm(g_a - e_a) <= bound_a),
               "∇_AL differs from Danskin's ½Σ_i(ŷ_iŷ_iᵀ − y_iy_iᵀ) beyond the solver accuracy the value allows",
               expected=e_a, got=g_a)


def _gradient_consistent(ctx, example):
    """The gradient is Danskin's at the implementation's own ỹ = ∇_θL + y (∇_θΦ(y) = y): ỹ ∈ C,
    ∇_AL = ½Σ_i(ỹ_iỹ_iᵀ − y_iy_iᵀ), and the value is F(ỹ) − F(y) (docs/fenchel_young.md §2.3, §2.7)."""
    theta, a, y = example
    g_theta, g_a = _grad(ctx, theta, a, y)
    y64 = np.asarray(y, dtype=np.float64)
    check_that(g_theta.shape == y64.shape, f"∇_θL has shape {g_theta.shape}, expected {y64.shape}")
    rtol, atol = ctx.tol
    y_tilde = g_theta + y64
    check_that(bool(np.all((y_tilde >= -10 * atol) & (y_tilde <= 1 + 10 * atol))),
               "ỹ = ∇_θL + y is outside the box: the gradient is not ∇Φ(ỹ) − ∇Φ(y) for any feasible ỹ",
               expected=np.clip(y_tilde, 0, 1), got=y_tilde)
    y_tilde = np.clip(y_tilde, 0, 1)
    _, e_a = _danskin(y_tilde, y64)
    compare(g_a, e_a, ctx, "∇_AL vs ½Σ_i(ỹ_iỹ_iᵀ − y_iy_iᵀ) at ỹ = ∇_θL + y", scale=10,
            atol_scale=10 * y64.shape[0] * (1 + y64.shape[-1]))
    expected = _objective(ctx, theta, a, y_tilde) - _objective(ctx, theta, a, y64)
    compare(_value(ctx, theta, a, y), expected, ctx, "loss vs F(ỹ) − F(y) at the gradient's ỹ", scale=10,
            atol_scale=10 * _scale(ctx, theta, a))


def _finite_differences(ctx, example):
    r"""Central differences of Σ_i L_i along (v_θ, v_A) vs ⟨Danskin's gradient, v⟩. Their error is at most
    η/ε (each value may be off by η, the agreement tolerance) plus Mε/2, M the curvature of the conjugate along v:
    ∂ŷ ≤ (2/μ)‖v_θ + v_A ŷ‖ per row (F is (μ/2)-strongly concave), so M ≤ Σ_i (2/μ)(‖v_θ,i‖ + √k‖v_A‖₂)²."""
    (theta, a, y), seed = example
    rng = np.random.default_rng(seed)
    v_theta = rng.standard_normal(theta.shape)
    v_a = np.triu(rng.standard_normal(a.shape), 1)
    v_a = v_a + v_a.T
    exact, y_hat = _exact(ctx, theta, a, y)
    e_theta, e_a = _danskin(y_hat, y)
    expected = float(np.sum(e_theta * v_theta) + np.sum(e_a * v_a))
    plus = _value(ctx, theta + _FD_EPS * v_theta, a + _FD_EPS * v_a, y).sum()
    minus = _value(ctx, theta - _FD_EPS * v_theta, a - _FD_EPS * v_a, y).sum()
    got = (plus - minus) / (2 * _FD_EPS)
    eta = float(np.sum(_value_tol(ctx, theta, a, exact)))
    k = theta.shape[-1]
    spectral = float(np.abs(np.linalg.eigvalsh(v_a)).max()) if k > 1 else 0.0
    curvature = float(np.sum(2 / ctx.options["regularizer"].strong_convexity
                             * (np.linalg.norm(v_theta, axis=-1) + np.sqrt(k) * spectral) ** 2))
    bound = eta / _FD_EPS + curvature * _FD_EPS / 2 + 1e-8 * abs(expected)
    check_that(abs(got - expected) <= bound, f"⟨∇L, v⟩ by central differences differs from Danskin's by "
               f"{abs(got - expected):.3g} (bound {bound:.3g})", expected=expected, got=got)


def _permuted(ctx, example):
    (theta, a, y), seed = example
    perm = np.random.default_rng(seed).permutation(theta.shape[-1])
    got = _value(ctx, theta[:, perm], a[perm][:, perm], y[:, perm])
    expected = _value(ctx, theta, a, y)
    compare(got, expected, ctx, "L(θπ, AΠ; yπ) vs L(θ, A; y)", scale=2, atol_scale=2 * _scale(ctx, theta, a))


def _batched(ctx, example):
    theta, a, y = example
    rows = np.concatenate([_value(ctx, t[None], a, r[None]) for t, r in zip(theta, y)])
    compare(_value(ctx, theta, a, y), rows, ctx, "a batch vs row by row", scale=2,
            atol_scale=2 * _scale(ctx, theta, a))


def generalized_fy_properties(ctx: Context) -> list[Property]:
    from hypothesis import strategies as st

    exact = ctx.options["exact"]
    with_seed = lambda c: st.tuples(_examples(c), st.integers(0, 2**32 - 1))  # noqa: E731
    only_exact = lambda c: None if exact else "declared approximate (exact=False)"  # noqa: E731
    needs_grad = lambda c: None if "grad" in c.fns else "no grad_fn given"  # noqa: E731
    return [
        Property("agrees_with_refefl", "matches refefl's exact generalized FY loss (A in K: unique ŷ)", _examples,
                 _agree, skip=only_exact),
        Property("bounded_by_exact_loss", "L ≤ the exact loss: no inner solver beats max_C F (§2.7)", _examples,
                 _below_exact),
        Property("nonnegative", "L(θ, A; y) ≥ 0, also at and near the optimum", _near_optimum, _nonnegative),
        Property("zero_at_prediction", "L(θ, A; ŷ(θ, A)) = 0", _examples, _zero_at_prediction),
        Property("gradient_matches_danskin", "∇L = ∇Φ(ŷ) − ∇Φ(y) at the exact ŷ (§2.3)", _examples,
                 _gradient_danskin, skip=lambda c: only_exact(c) or needs_grad(c)),
        Property("gradient_consistent_with_value", "∇L is Danskin's at a feasible ỹ whose F(ỹ) − F(y) is the value",
                 _examples, _gradient_consistent, skip=needs_grad),
        Property("gradient_matches_finite_differences", "central differences of ΣL along (v_θ, v_A) = ⟨∇L, v⟩",
                 with_seed, _finite_differences,
                 skip=lambda c: only_exact(c) or (None if c.dtype == np.float64 else "finite differences need "
                                                  "float64")),
        Property("permutation_invariant", "L(θπ, AΠ; yπ) = L(θ, A; y)", with_seed, _permuted, skip=only_exact),
        Property("batched", "a batch equals the rows one by one", _examples, _batched,
                 skip=lambda c: only_exact(c) or (None if c.batched else "declared 1-D only (batched=False)")),
    ]


def check_generalized_fy_loss(value_fn: Callable, grad_fn: Callable | None = None,
                              regularizer="binary_entropy", *, exact: bool = True, convert=None, dtype=np.float64,
                              examples: int = DEFAULT_EXAMPLES, seed: int = 0, batched: bool = True,
                              properties: list[str] | None = None) -> CheckReport:
    r"""Property-test a generalized Fenchel-Young loss of the quadratic energy on the box and, if given, its
    gradient.

    .. math::

        L(\theta, A; y) = \Omega^\Phi(\theta, A) + \Omega(y) - \Phi(y; \theta, A) = \max_{y' \in [0,1]^k} F(y')
        - F(y) \ge 0, \qquad F = \Phi - \Omega, \quad \Phi(y; \theta, A) = \langle y, \theta\rangle
        + \tfrac12\langle y, Ay\rangle,

        \nabla_\theta \textstyle\sum_i L_i = \hat y - y, \qquad
        \nabla_A \textstyle\sum_i L_i = \tfrac12 \sum_i (\hat y_i \hat y_i^\top - y_i y_i^\top)
        \quad (\text{Danskin, } \hat y = \operatorname{argmax} F).

    ``value_fn(theta, A, y)`` returns the per-row losses (n,) for θ (n, k), a shared symmetric A (k, k) and
    targets y (n, k) in [0, 1]^k; ``grad_fn(theta, A, y)`` the pair (∇_θ, ∇_A) of :math:`\sum_i L_i`, as
    :meth:`refefl.GeneralizedFenchelYoungLoss.solve` gives them. Ω is ``"binary_entropy"`` (μ = 4, ŷ the naive
    mean field) or ``"box_squared"`` (μ = 1). A is drawn with zero diagonal and λ_max(A) ≤ μ/2, where F is
    (μ/2)-strongly concave and ŷ unique (docs/fenchel_young.md §2.9), so refefl's conjugate is exact.

    Properties: agreement with refefl's exact loss; L ≤ the exact loss (an inner solver's F(ỹ) never exceeds
    max F, §2.7); L ≥ 0 exactly, also at and near the optimum; L = 0 at ŷ; ∇L = Danskin's gradient at ŷ within
    the accuracy the value tolerance implies (§2.3); ∇L is Danskin's at some feasible ỹ whose F(ỹ) − F(y) is
    the reported value; central differences of the value (float64); permutation invariance; batching. With
    ``exact=False`` (an implementation with an approximate inner solver, a fixed budget or early stopping) the
    properties that need the exact maximizer are skipped; the lower bound, L ≥ 0, L = 0 at ŷ and the gradient's
    consistency with the value still hold (§2.7).

    Parameters
    ----------
    value_fn : callable
        ``value_fn(theta, A, y) -> losses (n,)``.
    grad_fn : callable or None
        ``grad_fn(theta, A, y) -> (grad_theta (n, k), grad_A (k, k))``; None skips the gradient properties.
    regularizer : {"binary_entropy", "box_squared"} or Regularizer
        Ω on the box.
    exact : bool, default True
        The implementation claims the exact loss (its solver run to convergence).
    convert, dtype, examples, seed, batched, properties
        As in :func:`refefl.testing.check_fy_loss`.

    Returns
    -------
    CheckReport

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, Def. 2 (loss), Prop. 2 (L ≥ 0, L = 0 iff y = ŷ) and §3.3 (gradient);
    docs/fenchel_young.md §2, §2.3, §2.7, §2.9.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl import GeneralizedFenchelYoungLoss, regularizer
    >>> from refefl.energies import Quadratic
    >>> from refefl.testing import check_generalized_fy_loss
    >>> loss = GeneralizedFenchelYoungLoss(Quadratic(), regularizer("binary_entropy"))
    >>> report = check_generalized_fy_loss(lambda t, a, y: loss.value((t, a), y),
    ...                                    lambda t, a, y: loss.grad((t, a), y), examples=10)
    >>> print(report.ok, report["gradient_matches_danskin"].verdict)
    True passed
    """
    from refefl.regularizers import Regularizer, regularizer as make

    if not isinstance(exact, (bool, np.bool_)):
        raise TypeError(f"exact must be a bool, got {type(exact).__name__}")
    reg = regularizer if isinstance(regularizer, Regularizer) else make(regularizer)
    if reg.name not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {REGULARIZERS} (Ω on the box with an exact conjugate for the "
                         f"quadratic energy), got {reg.name!r}")
    ctx = make_context({"value": value_fn, "grad": grad_fn}, dtype=dtype, axis=-1, convert=convert,
                       batched=batched, regularizer=reg, exact=bool(exact))
    return run_properties(f"generalized_fy_loss[quadratic, {reg.name}]", target_name(value_fn),
                          generalized_fy_properties(ctx), ctx, examples=examples, seed=seed, properties=properties)
