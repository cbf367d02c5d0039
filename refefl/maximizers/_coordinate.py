r"""Block coordinate ascent for pairwise energies on the box [0, 1]^k, with binary negentropy or ½‖·‖².

:func:`coordinate_ascent_box` is a NumPy *row kernel* (C-contiguous 2-D inputs, output written in place, no
validation) so that a compiled twin can replace it one for one; :class:`CoordinateAscent` validates and calls it.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from refefl._backend import numpy_twin, select
from refefl.energies._base import Energy
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.projections._root_finding import find_root_decreasing
from refefl.regularizers._base import Regularizer

#: the largest diagonal entry A_jj for which each coordinate problem stays strictly concave
DIAGONAL_BOUND = {"binary_entropy": 4.0, "box_squared": 1.0}


def _entropic_coordinate(field: np.ndarray, diag: np.ndarray) -> np.ndarray:
    r"""argmax over y ∈ [0, 1] of :math:`f y + \tfrac12 d y^2 - y\log y - (1-y)\log(1-y)`, for d < 4.

    With d = 0 it is σ(f). Otherwise, in the logit u = log(y/(1−y)), the optimality condition
    :math:`h(u) = f + d\,\sigma(u) - u = 0` has h decreasing (h' = dσ'(u) − 1 < 0 since σ' ≤ 1/4) and a root in
    :math:`[f + \min(d, 0), f + \max(d, 0)]`, found by safeguarded Newton.
    """
    if not diag.any():
        return expit(field)
    lo, hi = field + np.minimum(diag, 0), field + np.maximum(diag, 0)

    def h(u, rows):
        sig = expit(u)
        return field[rows] + diag[rows] * sig - u, diag[rows] * sig * expit(-u) - 1

    u, _ = find_root_decreasing(h, lo, hi)
    return expit(u)


@numpy_twin
def coordinate_ascent_box(theta, a, y, entropic, max_iter, tol, n_iter) -> None:
    r"""Block coordinate ascent on :math:`F(y) = \langle y, \theta\rangle + \tfrac12 \langle y, Ay\rangle - \Omega(y)`
    over :math:`[0, 1]^k`, row by row (NumPy reference kernel; batched over rows, coordinates in order).

    Each step maximizes F exactly in one coordinate j, with the field :math:`f_j = \theta_j + \sum_{i \ne j}
    A_{ji} y_i` and :math:`d = A_{jj}`:

    - binary negentropy (``entropic``): :math:`y_j \leftarrow \sigma(f_j)` when d = 0, else the root of
      :math:`\operatorname{logit}(y_j) = f_j + d\, y_j` (needs d < 4);
    - ½‖·‖²: :math:`y_j \leftarrow \operatorname{clip}(f_j / (1 - d), 0, 1)` (needs d < 1).

    F never decreases. A row stops after the first sweep that moves no coordinate by more than ``tol``. Fields,
    the coordinate solves and the moves are computed in double (also for float32 rows); each new coordinate is
    rounded to the dtype of ``y`` once, when it is stored.

    Parameters
    ----------
    theta : ndarray of shape (n_rows, k), float32 or float64, C-contiguous
    a : ndarray of shape (m, k, k), dtype of theta, C-contiguous, symmetric; m = 1 (shared) or n_rows
    y : ndarray of shape (n_rows, k), dtype of theta; the starting point in [0, 1]^k, overwritten by the result
    entropic : bool
    max_iter : int
        Maximum number of sweeps.
    tol : float
    n_iter : ndarray of shape (n_rows,), intp; receives the sweeps run per row (max_iter + 1 if the budget ran
        out before the stopping test passed)
    """
    n_rows, k = theta.shape
    shared = a.shape[0] == 1
    n_iter[:] = max_iter + 1
    active = np.arange(n_rows)
    for sweep in range(1, max_iter + 1):
        change = np.zeros(active.size)
        for j in range(k):
            row_j = (a[0, j] if shared else a[active, j]).astype(np.float64)
            y_act = y[active].astype(np.float64)
            diag = np.broadcast_to(row_j[..., j], active.shape)
            # f_j = θ_j + Σ_i A_ji y_i − A_jj y_j, in double
            field = theta[active, j] + (y_act * row_j).sum(axis=1) - diag * y_act[:, j]
            if entropic:
                new = _entropic_coordinate(field, diag)
            else:
                new = np.clip(field / (1 - diag), 0, 1)
            new = new.astype(y.dtype)  # rounded once; the move is measured on the stored value
            change = np.maximum(change, np.abs(new - y_act[:, j]))
            y[active, j] = new
        done = change <= tol
        n_iter[active[done]] = sweep
        active = active[~done]
        if active.size == 0:
            break


class CoordinateAscent(Maximizer):
    r"""Exact block coordinate ascent for pairwise energies on the box, with binary negentropy or ½‖·‖².

    .. math::

        \max_{y \in [0,1]^k} \langle y, \theta\rangle + \tfrac12\langle y, A y\rangle - \Omega(y)

    for :class:`~refefl.energies.Quadratic` and :class:`~refefl.energies.LowRankConcave` energies (A = −VVᵀ). Each
    coordinate update is exact (a sigmoid of the field for binary negentropy with A_jj = 0, a one-dimensional
    Newton solve otherwise; a clipped ratio for ½‖·‖²), so F increases monotonically; when F is concave (A ⪯ 0,
    or more generally A − ∇²Ω ⪯ 0) the iterates converge to the unique maximizer. Requires A_jj < 4 (binary
    negentropy) or A_jj < 1 (½‖·‖²) on every row (``ValueError`` otherwise), which makes each coordinate problem
    strictly concave.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum number of sweeps over the coordinates.
    tol : float or None
        A row stops after a sweep that moves no coordinate by more than ``tol`` (default sqrt(eps)); each field
        is then off by at most :math:`\max_j \sum_i |A_{ji}|` tol, which bounds the reported stationarity by
        about :math:`(1 + \|A\|_\infty)` tol.
    backend : {"auto", "numpy", "ext"}, default "auto"
        Implementation of the sweeps: the NumPy reference :func:`coordinate_ascent_box` or its compiled twin
        ``refefl_ext.coordinate_ascent_box`` (same iterates up to rounding; "auto" takes the compiled one when
        it is built, unless ``REFEFL_PURE_NUMPY=1``).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (coordinate ascent for quadratic energies); Wainwright, Jordan (2008),
    "Graphical Models, Exponential Families, and Variational Inference", §5.3 (naive mean field updates).
    """

    def __init__(self, *, max_iter: int = 100, tol: float | None = None, backend: str = "auto"):
        super().__init__(max_iter=max_iter, tol=tol)
        select(coordinate_ascent_box, backend)  # ValueError on an unknown backend, RuntimeError on a missing ext
        self.backend = backend

    def check_supported(self, energy: Energy, regularizer: Regularizer) -> None:
        if not hasattr(energy, "pairwise"):
            raise ValueError(f"CoordinateAscent needs a pairwise energy (Quadratic, LowRankConcave), got {energy!r}")
        if regularizer.name not in DIAGONAL_BOUND:
            raise ValueError(
                f"CoordinateAscent supports the regularizers {sorted(DIAGONAL_BOUND)}, got {regularizer.name!r}"
            )

    def _maximize(self, energy, omega, params, y0) -> tuple[np.ndarray, MaximizerInfo]:
        theta, a = energy.pairwise(params)
        bound = DIAGONAL_BOUND[omega.name]
        if not (np.diagonal(a, axis1=-2, axis2=-1) < bound).all():
            raise ValueError(f"CoordinateAscent with {omega.name!r} needs every diagonal entry A_jj < {bound}")
        y = self._start(energy, omega, params, y0)
        theta = np.ascontiguousarray(theta, dtype=y.dtype)
        a = np.ascontiguousarray(a.reshape((-1,) + a.shape[-2:]), dtype=y.dtype)
        n_iter = np.empty(theta.shape[0], dtype=np.intp)
        kernel = select(coordinate_ascent_box, self.backend)
        kernel(theta, a, y, omega.name == "binary_entropy", self.max_iter, self._tol(y.dtype), n_iter)
        converged = bool((n_iter <= self.max_iter).all())
        return self._finish(energy, omega, params, y, int(min(n_iter.max(), self.max_iter)), converged)
