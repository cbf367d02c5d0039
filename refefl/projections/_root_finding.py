"""Row-wise root finding for monotone scalar equations: safeguarded Newton inside a shrinking bisection bracket.

Used by α-entmax for general α (the threshold τ with Σ ŷ(τ) = 1) and by the entropic capped simplex
(Σ sigmoid(θ − τ) = s). Each row has its own bracket; iteration stops when every row's bracket can no longer
shrink in floating point (machine precision) or ``f`` vanishes exactly.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import numpy as np


class RootInfo(NamedTuple):
    """Report of a root finder: iterations run, the largest final |f|, the widest final bracket, success.

    A plain tuple in this order is what compiled kernels return; ``RootInfo(*result)`` names its fields.
    """

    iterations: int
    max_abs_residual: float
    max_bracket_width: float
    converged: bool


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration budget before meeting its tolerance."""


def warn_if_unconverged(info: RootInfo, what: str, *, stacklevel: int = 3) -> None:
    """Raise a :class:`ConvergenceWarning` naming ``what`` when ``info.converged`` is False."""
    if not info.converged:
        warnings.warn(
            f"{what}: stopped after {info.iterations} iterations with brackets up to "
            f"{info.max_bracket_width:.3g} wide (largest |f| {info.max_abs_residual:.3g}); raise max_iter",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )


def find_root_decreasing(
    func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    max_iter: int = 200,
    warn: bool = True,
) -> tuple[np.ndarray, RootInfo]:
    r"""Solve :math:`f_r(\tau_r) = 0` for every row r, with each :math:`f_r` continuous and decreasing.

    Requires :math:`f_r(lo_r) \ge 0 \ge f_r(hi_r)`. Each step tries the Newton point
    :math:`\tau - f(\tau)/f'(\tau)` and falls back to the midpoint when it leaves the bracket, so the bracket
    shrinks at least as fast as bisection. When the Newton step no longer moves τ (the root is within an ulp),
    the neighbouring float on the far side is tried instead, which closes the bracket at once rather than
    bisecting its far end down. Stops when, for every row, f is exactly zero or the bracket's midpoint equals one
    of its ends (the bracket is one ulp wide).

    Parameters
    ----------
    func : callable
        ``func(tau, rows) -> (f, fprime)``: f and its derivative (≤ 0; 0 is allowed) at ``tau`` for the rows
        selected by the boolean mask ``rows`` (``tau`` holds only those rows), so that finished rows cost nothing.
    lo, hi : ndarray of shape (n_rows,)
        Brackets, float32 or float64 (the result has their dtype).
    max_iter : int, default 200
        Budget.
    warn : bool, default True
        Raise a :class:`ConvergenceWarning` if the budget runs out (callers that report ``info`` themselves pass
        False).

    Returns
    -------
    tau : ndarray of shape (n_rows,)
    info : RootInfo
    """
    lo, hi = lo.copy(), hi.copy()
    tau = lo + (hi - lo) / 2
    active = np.ones(tau.shape, dtype=bool)
    f = np.zeros_like(tau)
    iterations = 0
    while active.any() and iterations < max_iter:
        iterations += 1
        idx = np.flatnonzero(active)
        f_act, fprime = func(tau[idx], active)
        f[idx] = f_act
        positive = f_act > 0
        lo[idx[positive]] = tau[idx[positive]]
        hi[idx[~positive]] = tau[idx[~positive]]
        done = (f_act == 0) | ~_can_shrink(lo[idx], hi[idx])
        tau[idx] = np.where(done, tau[idx], _next_point(tau[idx], f_act, fprime, lo[idx], hi[idx]))
        active[idx[done]] = False
    width = float(np.max(hi - lo)) if hi.size else 0.0
    info = RootInfo(iterations, float(np.max(np.abs(f))) if f.size else 0.0, width, not active.any())
    if warn:
        warn_if_unconverged(info, "root finding")
    return tau, info


def _next_point(tau, f, fprime, lo, hi):
    """Newton point if strictly inside the bracket; the next float toward the far end if Newton stalls at τ;
    else the midpoint (also where f' overflowed: its Newton point τ is no stall, and stepping a float at a time
    from it would crawl)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        newton = np.where(np.isfinite(fprime), tau - f / fprime, lo + (hi - lo) / 2)
    far_end = np.where(f > 0, hi, lo)
    stalled = newton == tau
    newton = np.where(stalled, np.nextafter(tau, far_end), newton)
    inside = (newton > lo) & (newton < hi)
    return np.where(inside, newton, lo + (hi - lo) / 2)


def _can_shrink(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    mid = lo + (hi - lo) / 2
    return (mid != lo) & (mid != hi)
