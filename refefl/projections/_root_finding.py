"""Row-wise root finding for monotone scalar equations: safeguarded Newton inside a shrinking bisection bracket.

Used by α-entmax for general α (the threshold τ with Σ ŷ(τ) = 1) and by the entropic capped simplex
(Σ sigmoid(θ − τ) = s). Each row has its own bracket; iteration stops when every row's bracket can no longer
shrink in floating point (machine precision) or ``f`` vanishes exactly.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class RootInfo:
    """Report of :func:`find_root_decreasing`: iterations run, the largest final |f|, bracket width, success."""

    iterations: int
    max_abs_residual: float
    max_bracket_width: float
    converged: bool


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration budget before meeting its tolerance."""


def find_root_decreasing(
    func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    max_iter: int = 200,
) -> tuple[np.ndarray, RootInfo]:
    r"""Solve :math:`f_r(\tau_r) = 0` for every row r, with each :math:`f_r` continuous and decreasing.

    Requires :math:`f_r(lo_r) \ge 0 \ge f_r(hi_r)`. Each step tries the Newton point
    :math:`\tau - f(\tau)/f'(\tau)` and falls back to the midpoint when it leaves the bracket, so the bracket
    shrinks at least as fast as bisection. Stops when, for every row, f is exactly zero or the bracket's
    midpoint equals one of its ends (the bracket is one ulp wide).

    Parameters
    ----------
    func : callable
        ``func(tau, rows) -> (f, fprime)``: f and its derivative (≤ 0; 0 is allowed) at ``tau`` for the rows
        selected by the boolean mask ``rows`` (``tau`` holds only those rows), so that finished rows cost nothing.
    lo, hi : ndarray of shape (n_rows,)
        Brackets, float32 or float64 (the result has their dtype).
    max_iter : int, default 200
        Budget; a :class:`ConvergenceWarning` is raised if it is exhausted.

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
        f_act, fprime = func(tau[active], active)
        f[active] = f_act
        idx = np.flatnonzero(active)
        positive = f_act > 0
        lo[idx[positive]] = tau[idx[positive]]
        hi[idx[~positive]] = tau[idx[~positive]]
        done = (f_act == 0) | ~_can_shrink(lo[idx], hi[idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = tau[idx] - f_act / fprime
        mid = lo[idx] + (hi[idx] - lo[idx]) / 2
        inside = (newton > lo[idx]) & (newton < hi[idx])
        tau[idx] = np.where(done, tau[idx], np.where(inside, newton, mid))
        active[idx[done]] = False
    width = float(np.max(hi - lo)) if hi.size else 0.0
    info = RootInfo(iterations, float(np.max(np.abs(f))) if f.size else 0.0, width, not active.any())
    if not info.converged:
        warnings.warn(
            f"root finding stopped after {iterations} iterations with brackets up to {width:.3g} wide",
            ConvergenceWarning,
            stacklevel=3,
        )
    return tau, info


def _can_shrink(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    mid = lo + (hi - lo) / 2
    return (mid != lo) & (mid != hi)
