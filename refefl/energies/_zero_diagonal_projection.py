r"""The Frobenius projection onto the pairwise matrices that keep a quadratic energy's inner problem strongly
concave and exactly solvable by coordinate ascent: :math:`\{A = A^\top,\ \operatorname{diag} A = 0,\
\lambda_{\max}(A) \le c\}` (docs/fenchel_young.md §2.9)."""
from __future__ import annotations

import numpy as np

from refefl._validation import as_float_array, check_finite, check_positive, check_positive_int


def _clip_spectrum(b: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U min(Λ, bound) Uᵀ, Λ, U) for the symmetric ``b`` = U Λ Uᵀ."""
    eigenvalues, vectors = np.linalg.eigh(b)
    return (vectors * np.minimum(eigenvalues, bound)) @ vectors.T, eigenvalues, vectors


def _huber(eigenvalues: np.ndarray, bound: float) -> float:
    """Σ_i g(λ_i) with g(λ) = λ²/2 for λ ≤ c and cλ − c²/2 above: the dual objective, whose gradient is
    diag(U min(Λ, c) Uᵀ)."""
    top = np.minimum(eigenvalues, bound)
    return float(np.sum(top * eigenvalues - top * top / 2))


def _dual_hessian(eigenvalues: np.ndarray, vectors: np.ndarray, bound: float) -> np.ndarray:
    r"""Generalized Hessian of the dual of :func:`project_zero_diagonal_bounded`, ndarray of shape (k, k).

    :math:`J_{lm} = \sum_{ij}\Omega_{ij} U_{li}U_{lj}U_{mi}U_{mj}` with the divided differences Ω of min(·, c):
    1 between eigenvalues ≤ c (columns P of U), 0 between eigenvalues > c (columns Q), and
    :math:`(\lambda_i - c)/(\lambda_i - \lambda_j)` across. Hence
    :math:`J = (PP^\top)\circ(PP^\top) + 2\sum_{j} (q_j q_j^\top)\circ(P\,\operatorname{Diag}(\Omega_{\cdot j})P^\top)`,
    O(k³ (1 + #{λ > c})) instead of the O(k⁴) of the four-index sum.
    """
    below = eigenvalues <= bound
    p, q = vectors[:, below], vectors[:, ~below]
    inner = p @ p.T
    across = (eigenvalues[below, None] - bound) / (eigenvalues[below, None] - eigenvalues[None, ~below])
    # Σ_j (q_j q_jᵀ) ∘ (P Diag(Ω_·j) Pᵀ) = W Diag(vec Ω) Wᵀ with W_{l,(i,j)} = P_li q_lj: one product
    w = (p[:, :, None] * q[:, None, :]).reshape(len(p), -1)
    return inner * inner + 2 * (w * across.ravel()) @ w.T


def project_zero_diagonal_bounded(a: np.ndarray, bound: float, *, tol: float = 1e-10,
                                  max_iter: int = 100) -> np.ndarray:
    r"""Frobenius projection of a symmetric matrix onto matrices with zero diagonal and eigenvalues at most c.

    .. math::

        P(A) = \operatorname*{argmin}_{X = X^\top,\ \operatorname{diag} X = 0,\ X \preceq cI}
        \tfrac12\|X - A\|_F^2 = \Pi_c(A + \operatorname{Diag} y^\star), \qquad
        y^\star = \operatorname*{argmin}_y \textstyle\sum_i g(\lambda_i(A + \operatorname{Diag} y)),

    with :math:`\Pi_c` the clipping of the eigenvalues at c and g(λ) = λ²/2 for λ ≤ c, cλ − c²/2 above (the
    Lagrangian dual of the diagonal constraint, docs/fenchel_young.md §2.9). With c = μ/2, μ the strong convexity
    of Ω, the set is where the quadratic energy ⟨y, θ⟩ + ½⟨y, Ay⟩ minus Ω is (μ/2)-strongly concave with closed-form
    coordinate updates. A feasible A is returned as it is (symmetrized). Otherwise the dual is solved by
    semismooth Newton with Armijo backtracking on its generalized Hessian; the result's diagonal is then set to 0
    and, if rounding left λ_max above c, it is shrunk by the factor c/λ_max. Computed in float64; returned in the
    dtype of ``a``.

    Parameters
    ----------
    a : ndarray of shape (k, k)
        Symmetrized before use.
    bound : float
        c > 0.
    tol : float, default 1e-10
        Stop when every diagonal entry of the dual iterate is below tol·max(1, c).
    max_iter : int, default 100
        Newton iterations.

    Returns
    -------
    ndarray of shape (k, k)

    References
    ----------
    Qi, Sun (2006), "A quadratically convergent Newton method for computing the nearest correlation matrix",
    SIAM J. Matrix Anal. Appl. 28(2), Algorithm 5.1 (the same dual, with the PSD cone); Malick (2004), "A dual
    approach to semidefinite least-squares problems", SIAM J. Matrix Anal. Appl. 26(1).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import project_zero_diagonal_bounded
    >>> a = np.array([[1.0, 3.0], [3.0, 1.0]])  # eigenvalues 4 and -2, diagonal 1
    >>> np.round(project_zero_diagonal_bounded(a, 1.0), 8)
    array([[0., 1.],
           [1., 0.]])
    """
    arr = as_float_array(a, "a")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"a must be a square matrix of shape (k, k), got shape {arr.shape}")
    check_finite(arr, "a")
    bound = check_positive(bound, "bound")
    return _project(arr.astype(np.float64, copy=False), bound, check_positive(tol, "tol"),
                    check_positive_int(max_iter, "max_iter")).astype(arr.dtype, copy=False)


def _project(a: np.ndarray, bound: float, tol: float, max_iter: int) -> np.ndarray:
    """:func:`project_zero_diagonal_bounded` for a validated float64 square ``a``."""
    a = (a + a.T) / 2
    if not np.diag(a).any() and np.linalg.eigvalsh(a)[-1] <= bound:  # already feasible: its own projection
        return a
    y = -np.diag(a).copy()  # the start y = −diag(A) is exact when A + Diag y already satisfies the bound
    for _ in range(max_iter):
        x, eigenvalues, vectors = _clip_spectrum(a + np.diag(y), bound)
        residual = np.diag(x)
        if np.abs(residual).max() <= tol * max(1.0, bound):
            break
        hessian = _dual_hessian(eigenvalues, vectors, bound)
        shift = min(1e-2, float(np.abs(residual).max()))  # keeps the Newton system regular (Qi & Sun, §5)
        step = -np.linalg.solve(hessian + shift * np.eye(len(y)), residual)
        value, slope, t = _huber(eigenvalues, bound), float(residual @ step), 1.0
        slack = 64 * np.finfo(float).eps * (1 + abs(value))  # below it a decrease is lost in rounding
        while t > 1e-10 and _huber(np.linalg.eigvalsh(a + np.diag(y + t * step)), bound) > (
                value + 1e-4 * t * slope + slack):
            t /= 2
        y = y + t * step
    x = (x + x.T) / 2
    x = x - np.diag(np.diag(x))
    top = np.linalg.eigvalsh(x)[-1]
    return x * (bound / top) if top > bound else x
