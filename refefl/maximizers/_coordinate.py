r"""Block coordinate ascent for pairwise energies on the box [0, 1]^k, with a separable Ω whose coordinate problems
have a closed form (the regularizer's ``_coordinate_update``: binary negentropy, ½‖·‖²).

:func:`coordinate_sweeps` is the NumPy *row kernel* (C-contiguous 2-D inputs, output written in place, no
validation) for any such Ω; :func:`coordinate_ascent_box` is its specialization to the two closed forms that the
compiled twin ``refefl_ext.coordinate_ascent_box`` implements one for one. :class:`CoordinateAscent` validates
and calls them.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from refefl._backend import numpy_twin, select
from refefl.energies._base import Energy
from refefl.energies._quadratic import PairwiseEnergy
from refefl.maximizers._base import Maximizer, MaximizerInfo
from refefl.regularizers._base import Regularizer, defines
from refefl.regularizers._box import BinaryEntropy, BoxSquared

# the closed forms the compiled kernel implements -> its ``entropic`` flag; a regularizer whose class inherits
# one of these updates (and so its Ω on the box) runs the compiled kernel when it is built
_KERNEL_CASES: dict[Callable, bool] = {BinaryEntropy._coordinate_update: True, BoxSquared._coordinate_update: False}


def coordinate_sweeps(theta, a, y, update, max_iter, tol, n_iter) -> None:
    r"""Block coordinate ascent on :math:`F(y) = \langle y, \theta\rangle + \tfrac12 \langle y, Ay\rangle - \Omega(y)`
    over :math:`[0, 1]^k`, for a separable Ω, row by row (NumPy reference kernel; batched over rows, coordinates
    in order).

    Each step maximizes F exactly in one coordinate j, with the field :math:`f_j = \theta_j + \sum_{i \ne j}
    A_{ji} y_i` and :math:`d = A_{jj}`: :math:`y_j \leftarrow` ``update(f, d)``, the regularizer's
    ``_coordinate_update`` (needs d below its strong convexity). F never decreases. A row stops after the first
    sweep that moves no coordinate by more than ``tol``. Fields, the coordinate solves and the moves are computed
    in double (also for float32 rows); each new coordinate is rounded to the dtype of ``y`` once, when it is stored.

    Parameters
    ----------
    theta : ndarray of shape (n_rows, k), float32 or float64, C-contiguous
    a : ndarray of shape (m, k, k), dtype of theta, C-contiguous, symmetric; m = 1 (shared) or n_rows
    y : ndarray of shape (n_rows, k), dtype of theta; the starting point in [0, 1]^k, overwritten by the result
    update : callable
        ``update(field, diag)`` with arrays of shape (m,), float64: the maximizer over t ∈ [0, 1] of
        :math:`f t + \tfrac12 d t^2 - \omega(t)`.
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
            new = update(field, diag).astype(y.dtype)  # rounded once; the move is measured on the stored value
            change = np.maximum(change, np.abs(new - y_act[:, j]))
            y[active, j] = new
        done = change <= tol
        n_iter[active[done]] = sweep
        active = active[~done]
        if active.size == 0:
            break


@numpy_twin
def coordinate_ascent_box(theta, a, y, entropic, max_iter, tol, n_iter) -> None:
    r""":func:`coordinate_sweeps` with the binary negentropy (``entropic``) or ½‖·‖² on the box.

    The coordinate updates are :meth:`BinaryEntropy._coordinate_update
    <refefl.regularizers.BinaryEntropy._coordinate_update>` (:math:`y_j \leftarrow \sigma(f_j)` when d = 0, else
    the root of :math:`\operatorname{logit}(y_j) = f_j + d\, y_j`; needs d < 4) and
    :meth:`BoxSquared._coordinate_update <refefl.regularizers.BoxSquared._coordinate_update>`
    (:math:`y_j \leftarrow \operatorname{clip}(f_j / (1 - d), 0, 1)`; needs d < 1). Parameters as in
    :func:`coordinate_sweeps`, with the bool ``entropic`` in place of ``update``.
    """
    update = BinaryEntropy._coordinate_update if entropic else BoxSquared._coordinate_update
    coordinate_sweeps(theta, a, y, update, max_iter, tol, n_iter)


class CoordinateAscent(Maximizer):
    r"""Exact block coordinate ascent for pairwise energies on the box, with a separable Ω that has a closed-form
    coordinate update (binary negentropy, ½‖·‖²).

    .. math::

        \max_{y \in [0,1]^k} \langle y, \theta\rangle + \tfrac12\langle y, A y\rangle - \Omega(y)

    for a :class:`~refefl.energies.PairwiseEnergy` (:class:`~refefl.energies.Quadratic`,
    :class:`~refefl.energies.LowRankConcave` with A = −VVᵀ) and a regularizer that defines ``_coordinate_update``
    and ``strong_convexity`` μ (see :class:`~refefl.Regularizer`; ``ValueError`` otherwise). Each coordinate
    update is exact (a sigmoid of the field for binary negentropy with A_jj = 0, a one-dimensional Newton solve
    otherwise; a clipped ratio for ½‖·‖²), so F increases monotonically; when F is concave (A ⪯ 0, or more
    generally A − ∇²Ω ⪯ 0) the iterates converge to the unique maximizer. Requires A_jj < μ on every row (4 for
    the binary negentropy, 1 for ½‖·‖²; ``ValueError`` otherwise), which makes each coordinate problem strictly
    concave.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum number of sweeps over the coordinates.
    tol : float or None
        A row stops after a sweep that moves no coordinate by more than ``tol`` (default sqrt(eps)); each field
        is then off by at most :math:`\max_j \sum_i |A_{ji}|` tol, which bounds the reported stationarity by
        about :math:`(1 + \|A\|_\infty)` tol.
    backend : {"auto", "numpy", "ext"}, default "auto"
        Implementation of the sweeps for the binary negentropy and ½‖·‖² on the box (and subclasses that keep
        their coordinate updates): the NumPy reference :func:`coordinate_ascent_box` or its compiled twin
        ``refefl_ext.coordinate_ascent_box`` (same iterates up to rounding); "auto" takes the backend of
        :func:`refefl.config_context` in force at each solve (the compiled one when built, unless
        ``REFEFL_PURE_NUMPY=1``). Any other coordinate update runs in
        :func:`coordinate_sweeps` (NumPy).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, §4 (coordinate ascent for quadratic energies); Wainwright, Jordan (2008),
    "Graphical Models, Exponential Families, and Variational Inference", §5.3 (naive mean field updates).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> from refefl.maximizers import CoordinateAscent
    >>> from refefl.regularizers import BoxSquared
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> A = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y_hat, info = CoordinateAscent(max_iter=2000, tol=1e-10).maximize(Quadratic(), BoxSquared(), (theta, A))
    >>> print(np.round(y_hat, 3), info.converged)
    [[1.  0.  0.5]] True
    """

    def __init__(self, *, max_iter: int = 100, tol: float | None = None, backend: str = "auto"):
        super().__init__(max_iter=max_iter, tol=tol)
        select(coordinate_ascent_box, backend)  # ValueError on an unknown backend or an ext that cannot run
        self.backend = backend

    @staticmethod
    def supports(regularizer: Regularizer) -> bool:
        """Whether ``regularizer`` has a closed-form coordinate update and a diagonal bound (its strong convexity)."""
        return defines(regularizer, "_coordinate_update") and regularizer.strong_convexity is not None

    def check_supported(self, energy: Energy, regularizer: Regularizer) -> None:
        if not isinstance(energy, PairwiseEnergy):
            raise ValueError(
                f"CoordinateAscent needs a pairwise energy (a PairwiseEnergy: Quadratic, LowRankConcave), got {energy!r}"
            )
        if not self.supports(regularizer):
            raise ValueError(
                "CoordinateAscent supports the regularizers that define _coordinate_update() and strong_convexity "
                f"(separable on the box: binary_entropy, box_squared), got {regularizer!r}"
            )

    def _maximize(self, energy, omega, params, y0) -> tuple[np.ndarray, MaximizerInfo]:
        theta, a = energy.pairwise(params)
        bound = omega.strong_convexity
        if not (np.diagonal(a, axis1=-2, axis2=-1) < bound).all():
            raise ValueError(f"CoordinateAscent with {omega!r} needs every diagonal entry A_jj < {bound}")
        y = self._start(energy, omega, params, y0)
        theta = np.ascontiguousarray(theta, dtype=y.dtype)
        a = np.ascontiguousarray(a.reshape((-1,) + a.shape[-2:]), dtype=y.dtype)
        n_iter = np.empty(theta.shape[0], dtype=np.intp)
        tol = self._tol(y.dtype)
        entropic = _KERNEL_CASES.get(type(omega)._coordinate_update)
        if entropic is None:
            coordinate_sweeps(theta, a, y, omega._coordinate_update, self.max_iter, tol, n_iter)
        else:
            select(coordinate_ascent_box, self.backend)(theta, a, y, entropic, self.max_iter, tol, n_iter)
        converged = bool((n_iter <= self.max_iter).all())
        return self._finish(energy, omega, params, y, int(min(n_iter.max(), self.max_iter)), converged)
