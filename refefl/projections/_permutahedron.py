r"""Projections onto the permutahedron, soft sort and soft rank, with their Jacobian-vector products.

The permutahedron of w is :math:`P(w) = \operatorname{conv}\{w_\pi : \pi \text{ permutation}\}`. For
:math:`\Psi \in \{Q, E\}`, :math:`Q(\mu) = \tfrac12\|\mu\|^2`, :math:`E(\mu) = \langle \mu, \log\mu - 1\rangle`,

.. math::

    P_\Psi(z, w) = \operatorname*{argmax}_{\mu \in P(w)} \langle \mu, z\rangle - \Psi(\mu).

Derivation (Blondel et al. 2020, Prop. 3). Let σ sort z decreasingly and let w be sorted decreasingly. Then
:math:`P_Q(z, w)_\sigma = z_\sigma - v` with :math:`v = \operatorname{argmin}_{v_1 \ge \dots \ge v_n}
\tfrac12\|v - (z_\sigma - w)\|^2` (z and w enter with these signs: a spread-out z gives v = z_σ − w, so
μ_σ = w and the largest z_i receives the largest w_i), and :math:`P_E(z, w)_\sigma = e^{z_\sigma - v}` with
:math:`v = \operatorname{argmin}_{v_1 \ge \dots \ge v_n} \sum_i e^{s_i - v_i} + e^{\ell_i} v_i`,
s = z_σ, ℓ = log w (its unconstrained minimizer v = s − ℓ gives μ_σ = w again). PAV solves both; on a block
B it returns :math:`v_B = \operatorname{mean}_B(s - w)` or :math:`\log\sum_B e^{s} - \log\sum_B e^{\ell}`, so

.. math::

    \mu_i = (z_i - \bar z_B) + \bar w_B \quad (Q), \qquad
    \mu_i = \frac{e^{z_i}}{\sum_{j\in B} e^{z_j}} \sum_{j \in B} w_j \quad (E), \qquad i \in B.

The row kernel :func:`~refefl.projections._permutahedron_kernels.projection_permutahedron_rows` (compiled in
``refefl_ext``) does all of it after one sort: gather, PAV, these block formulas evaluated from deviations to each
block's first element (exact for ties and for singletons, which return w_i itself), scatter back; the sort is one
``np.sort`` of packed keys (see that module). By the KKT conditions of PAV
a block's first element has a value ≤ v_B ≤ its last's, so :math:`z_f - z_l \le w_f - w_l` (ℓ for E): gaps of z
wider than the spread of w never lie inside a block, and are capped before PAV, which keeps every input finite
whatever the strength. Inputs are computed in float64 and returned in their own dtype (float32 stays float32).
The Jacobians (see :func:`projection_permutahedron_jvp`) are block diagonal in sorted coordinates, with the
blocks the solver returned, never re-detected by comparing fitted values. The reductions are checked against a
generic solver (SLSQP over Rado's majorization inequalities) in the tests.

References
----------
Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eqs. (4)-(7),
Prop. 3 (reduction to isotonic regression) and Lemma 1 / §5 (Jacobians).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from refefl import _backend
from refefl._validation import as_float_array, as_rows, check_axis, check_finite, check_positive, check_same_shape
from refefl._validation import common_float_dtype, from_rows
from refefl.projections._permutahedron_kernels import Blocks, descending_order, projection_permutahedron_rows

_REGULARIZATIONS = ("l2", "kl")
_DIRECTIONS = ("ascending", "descending")


@dataclass(frozen=True)
class _Solution:
    """P_Ψ(x/ε, w) on rows x from :func:`projection_permutahedron_rows`: μ (Q) or log μ (E) in x's order."""

    out: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    n_blocks: np.ndarray
    ws: np.ndarray
    eps: float
    kl: bool

    def jvp(self, dx: np.ndarray | None = None, dws: np.ndarray | None = None) -> np.ndarray:
        """Tangent of ``out`` (x's order) for tangents dx of x and dws of ws (sorted like ws; of ℓ for E).

        In sorted coordinates it is (dx − P dx)/ε + Q dws, where P and Q average over each PAV block with weights
        1/|B| (Q) or softmax(log μ_B), softmax(ℓ_B) (E): the Jacobian of the block formulas, blocks held fixed.
        """
        m, n = self.order.shape
        blocks, t = Blocks.from_starts(self.starts, self.n_blocks), np.zeros(m * n)
        uniform = 1.0 / blocks.sizes[blocks.ids]
        if dx is not None:
            dx = np.take_along_axis(dx, self.order, axis=1).ravel()
            p = blocks.softmax(np.take_along_axis(self.out, self.order, axis=1)) if self.kl else uniform
            t += (dx - blocks.sums(p * dx)[blocks.ids]) / self.eps
        if dws is not None:
            ws = np.broadcast_to(self.ws, (m, n))
            q = blocks.softmax(ws) if self.kl else uniform
            t += blocks.sums(q * np.broadcast_to(dws, (m, n)).ravel())[blocks.ids]
        out = np.empty((m, n))
        np.put_along_axis(out, self.order, t.reshape(m, n), axis=1)
        return out

    def vjp(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cotangents of x (x's order) and of ws (sorted like ws; of ℓ for E) for a cotangent u of ``out``.

        The transpose of :meth:`jvp`: with U_B the sum of u over the block of an entry (sorted coordinates),
        x receives (u − p U_B)/ε and ws receives q U_B, with the weights p, q of :meth:`jvp`.
        """
        m, n = self.order.shape
        blocks = Blocks.from_starts(self.starts, self.n_blocks)
        uniform = 1.0 / blocks.sizes[blocks.ids]
        u = np.take_along_axis(u, self.order, axis=1).ravel()
        block_sums = blocks.sums(u)[blocks.ids]
        p = blocks.softmax(np.take_along_axis(self.out, self.order, axis=1)) if self.kl else uniform
        q = blocks.softmax(np.broadcast_to(self.ws, (m, n))) if self.kl else uniform
        ux = np.empty((m, n))
        np.put_along_axis(ux, self.order, ((u - p * block_sums) / self.eps).reshape(m, n), axis=1)
        return ux, (q * block_sums).reshape(m, n)


def _solve(x: np.ndarray, ws: np.ndarray, eps: float, kl: bool, backend: str, order=None) -> _Solution:
    """P_Ψ(x/ε, w) for C rows x (float32 or float64) and float64 rows ws (1 or m, n) sorted decreasingly."""
    order = descending_order(x, eps > 0, backend) if order is None else order
    out, n_blocks = np.empty_like(x), np.empty(x.shape[0], dtype=np.intp)
    starts = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.intp)
    kernel = _backend.select(projection_permutahedron_rows, backend)
    exponent = 0 if kl else _sum_exponent(ws, x.shape[1])
    if exponent:  # P_Q(x/ε, w) = 2^-e P_Q(2^e x/ε, 2^e w): the same blocks, sums kept finite
        kernel(np.ldexp(x, exponent), order, np.ldexp(ws, exponent), eps, kl, out, starts, n_blocks)
        out = np.ldexp(out, -exponent).astype(x.dtype, copy=False)
    else:
        kernel(x, order, ws, eps, kl, out, starts, n_blocks)
    return _Solution(out, order, starts, n_blocks, ws, eps, kl)


def _sum_exponent(ws: np.ndarray, n: int, limit: int = 1000) -> int:
    """The exponent e ≤ 0 of an exact rescaling 2^e of w (Ψ = Q) that keeps every sum of the kernel finite.

    PAV runs on z − w with z = x/ε shifted and its gaps capped at 2·spread(w) + 1 (see
    :func:`~refefl.projections._permutahedron_kernels.projection_permutahedron_rows`), so its block sums stay
    below about 4 n² max|w|: θ spanning ±1e308 in a soft sort would overflow them (and the spread itself).
    """
    magnitude = float(np.abs(ws).max()) if ws.size else 0.0
    if magnitude == 0:
        return 0
    return min(0, limit - math.frexp(magnitude)[1] - 2 - 2 * (n - 1).bit_length())


def _mu(sol: _Solution, v) -> np.ndarray:
    """μ of a solution (its forward output), or the tangent of μ along v (a tangent of x) when v is given."""
    if v is None:
        return np.exp(sol.out, out=sol.out) if sol.kl else sol.out
    t = sol.jvp(v)
    return np.exp(sol.out) * t if sol.kl else t


@functools.lru_cache(maxsize=2)
def _decreasing_ranks(n: int, log: bool) -> np.ndarray:
    # cached: soft ranks of one length are asked for again and again, and log ρ costs as much as the PAV
    rho = np.arange(n, 0, -1, dtype=np.float64)[None, :]
    rho = np.log(rho) if log else rho
    rho.setflags(write=False)
    return rho


# -- the three maps on C rows: each returns its output, or its JVP along v when v is given ----------------------
def _projection_rows(z, v, w_rows, v_w, kl: bool, backend: str) -> np.ndarray:
    w_order = np.argsort(-w_rows, axis=1)
    ws = np.take_along_axis(w_rows, w_order, axis=1)
    sol = _solve(z, np.log(ws) if kl else ws, 1.0, kl, backend)
    if v is None or v_w is None:
        return _mu(sol, v)
    dws = np.take_along_axis(v_w, np.broadcast_to(w_order, v_w.shape), axis=1) / (ws if kl else 1.0)
    t = sol.jvp(v, dws)
    return np.exp(sol.out) * t if kl else t


def _projection_vjp_rows(z, u, w_rows, kl: bool, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """Cotangents of z and of w (rows of the shape of z, in w's own order) for a cotangent u of μ."""
    w_order = np.argsort(-w_rows, axis=1)
    ws = np.take_along_axis(w_rows, w_order, axis=1)
    sol = _solve(z, np.log(ws) if kl else ws, 1.0, kl, backend)
    uz, uws = sol.vjp(np.exp(sol.out) * u if kl else u)
    uw = np.empty(z.shape)
    np.put_along_axis(uw, np.broadcast_to(w_order, z.shape), uws / ws if kl else uws, axis=1)
    return uz, uw


def _rank_rows(theta, v, strength: float, kl: bool, descending: bool, backend: str) -> np.ndarray:
    eps = -strength if descending else strength
    return _mu(_solve(theta, _decreasing_ranks(theta.shape[1], kl), eps, kl, backend), v)


def _sort_rows(theta, v, strength: float, kl: bool, descending: bool, backend: str) -> np.ndarray:
    m, n = theta.shape
    ws = np.ascontiguousarray(np.sort(theta, axis=1)[:, ::-1], dtype=np.float64)
    rho = np.broadcast_to(_decreasing_ranks(n, False), (m, n)).copy()
    identity = np.broadcast_to(np.arange(n, dtype=np.intp), (m, n)).copy()  # ρ is sorted already
    sol = _solve(rho, ws, strength, kl, backend, order=identity)
    if v is None:
        out = sol.out
    else:  # ties in theta may go either way: the sort is not differentiable there
        out = sol.jvp(dws=np.take_along_axis(v, np.argsort(-theta, axis=1), axis=1))
    return out if descending else out[:, ::-1]


def _rank_vjp_rows(theta, u, strength: float, kl: bool, descending: bool, backend: str) -> np.ndarray:
    eps = -strength if descending else strength
    sol = _solve(theta, _decreasing_ranks(theta.shape[1], kl), eps, kl, backend)
    return sol.vjp(np.exp(sol.out) * u if kl else u)[0]


def _sort_vjp_rows(theta, u, strength: float, kl: bool, descending: bool, backend: str) -> np.ndarray:
    m, n = theta.shape
    ws = np.ascontiguousarray(np.sort(theta, axis=1)[:, ::-1], dtype=np.float64)
    rho = np.broadcast_to(_decreasing_ranks(n, False), (m, n)).copy()
    identity = np.broadcast_to(np.arange(n, dtype=np.intp), (m, n)).copy()
    uws = _solve(rho, ws, strength, kl, backend, order=identity).vjp(u if descending else u[:, ::-1])[1]
    out = np.empty((m, n))
    np.put_along_axis(out, np.argsort(-theta, axis=1), uws, axis=1)
    return out


# -- validation and batching ---------------------------------------------------------------------------------
def _check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _as_finite(x, name: str) -> np.ndarray:
    x = as_float_array(x, name)
    check_finite(x, name)
    return x


def _tangent(v, x: np.ndarray, name: str = "v") -> np.ndarray:
    v = _as_finite(v, name)
    check_same_shape(x, v, "the input", name)
    return v


def _run(rows_fn, x: np.ndarray, axis: int, dtype, v=None) -> np.ndarray:
    """Apply ``rows_fn(rows, v_rows)`` to x as C rows of ``dtype`` along ``axis`` (v, if given, in float64)."""
    rows, moved_shape = as_rows(x, axis, dtype=dtype)
    out = rows_fn(rows, None if v is None else as_rows(v, axis, dtype=np.float64)[0])
    return from_rows(out.astype(dtype, copy=False), moved_shape, axis)


def _weight_rows(w, z: np.ndarray, axis: int, name: str) -> np.ndarray:
    """w of shape (n,) (one row, shared by every row of z) or of the shape of z (as float64 rows aligned with z's)."""
    n = z.shape[axis]
    if w.shape == (n,):
        return w.astype(np.float64)[None, :]
    if w.shape != z.shape:
        raise ValueError(f"{name} must have shape ({n},) or the shape of z {z.shape}, got {w.shape}")
    return as_rows(w, axis, dtype=np.float64)[0]


def _projection_inputs(z, w, regularization, axis):
    """Validated (z, w, kl, axis, rows of w aligned with the rows of z)."""
    kl = _check_choice(regularization, "regularization", _REGULARIZATIONS) == "kl"
    z, w = _as_finite(z, "z"), _as_finite(w, "w")
    axis = check_axis(z, axis, "z")
    if kl and not (w > 0).all():
        raise ValueError("w must be strictly positive for regularization='kl'")
    return z, w, kl, axis, _weight_rows(w, z, axis, "w")


def _projection(z, w, v, v_w, regularization, axis, backend) -> np.ndarray:
    z, w, kl, axis, w_rows = _projection_inputs(z, w, regularization, axis)
    if v is not None:
        v = _tangent(v, z)
    if v_w is not None:
        v_w = _weight_rows(_tangent(v_w, w, "v_w"), z, axis, "v_w")
    rows_fn = lambda rows, v_rows: _projection_rows(rows, v_rows, w_rows, v_w, kl, backend)  # noqa: E731
    return _run(rows_fn, z, axis, common_float_dtype(z, w), v)


def _projection_vjp(z, w, u, regularization, axis, backend) -> tuple[np.ndarray, np.ndarray]:
    z, w, kl, axis, w_rows = _projection_inputs(z, w, regularization, axis)
    u = _tangent(u, z, "u")
    dtype = common_float_dtype(z, w)
    z_rows, moved_shape = as_rows(z, axis, dtype=dtype)
    uz, uw = _projection_vjp_rows(z_rows, as_rows(u, axis, dtype=np.float64)[0], w_rows, kl, backend)
    uw = uw.sum(axis=0) if w.ndim == 1 else from_rows(uw, moved_shape, axis)  # a shared w gathers every row's
    return from_rows(uz.astype(dtype, copy=False), moved_shape, axis), uw.astype(dtype, copy=False)


def _soft(rows_impl, theta, v, strength, regularization, direction, axis, backend) -> np.ndarray:
    strength = check_positive(strength, "strength")
    kl = _check_choice(regularization, "regularization", _REGULARIZATIONS) == "kl"
    descending = _check_choice(direction, "direction", _DIRECTIONS) == "descending"
    theta = _as_finite(theta, "theta")
    axis = check_axis(theta, axis, "theta")
    v = None if v is None else _tangent(v, theta)
    rows_fn = lambda rows, v_rows: rows_impl(rows, v_rows, strength, kl, descending, backend)  # noqa: E731
    return _run(rows_fn, theta, axis, theta.dtype, v)


# -- public API ----------------------------------------------------------------------------------------------
def projection_permutahedron(
    z, w, *, regularization: str = "l2", axis: int = -1, backend: str = "auto"
) -> np.ndarray:
    r"""Regularized projection onto the permutahedron P(w), batched over every axis but ``axis``.

    .. math::

        P_Q(z, w) = \operatorname*{argmin}_{\mu \in P(w)} \tfrac12 \|\mu - z\|^2, \qquad
        P_E(z, w) = \operatorname*{argmax}_{\mu \in P(w)} \langle \mu, z\rangle - \langle \mu, \log \mu - 1\rangle,

    solved by one sort and one PAV pass (see the module docstring for the reduction). The result is invariant
    to adding a constant to z and to permuting w, and equivariant to permuting z.

    Parameters
    ----------
    z : array_like of shape (..., n)
        Finite scores (NaN or ±inf raise ``ValueError``).
    w : array_like of shape (n,) or the shape of z
        Finite generating vector, in any order; strictly positive for ``"kl"``. A 1-D w serves every row.
    regularization : {"l2", "kl"}, default "l2"
        Ψ = Q (Euclidean projection) or Ψ = E (entropic; the output is then strictly positive).
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}, default "auto"
        Which row kernels run: the compiled twins in ``refefl_ext`` ("ext") or their NumPy references ("numpy");
        "auto" (the default) the backend of :func:`refefl.config_context` (the compiled twins when built, unless
        ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    mu : ndarray of the shape of z
        In P(w); float32 if z and w are float32, else float64.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eq. (5), Prop. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_permutahedron
    >>> w = np.array([3.0, 2.0, 1.0])
    >>> projection_permutahedron([4.0, 0.5, 1.0], w)
    array([3.  , 1.25, 1.75])
    >>> y = projection_permutahedron([4.0, 0.5, 1.0], w, regularization="kl")
    >>> print(np.round(y, 4), round(float(y.sum()), 10))
    [3.     1.1326 1.8674] 6.0
    """
    return _projection(z, w, None, None, regularization, axis, backend)


def projection_permutahedron_jvp(
    z, w, v, *, v_w=None, regularization: str = "l2", axis: int = -1, backend: str = "auto"
) -> np.ndarray:
    r"""Jacobian-vector product of :func:`projection_permutahedron` along v (for z) and ``v_w`` (for w).

    .. math::

        \partial_z P_Q\, v = v - \Pi^\top B \Pi v, \qquad
        \partial_z P_E\, v = \mu \odot (v - \Pi^\top S \Pi v), \qquad
        (\partial_w P\, v_w)_\sigma = B\, (v_w)_\tau \;\; (Q), \quad
        \mu_\sigma \odot S' \big((v_w / w)_\tau\big) \;\; (E),

    with Π sorting z decreasingly (σ), τ sorting w decreasingly, B averaging each PAV block, S (resp. S') taking
    the within-block softmax-weighted mean with weights softmax(z_B) (resp. softmax(log w_B)). Exact away from
    the measure-zero set where two PAV blocks are about to merge; the blocks are the solver's own.

    Parameters
    ----------
    z, w, regularization, axis, backend
        As in :func:`projection_permutahedron`.
    v : array_like of the shape of z
        Tangent of z (finite).
    v_w : array_like of the shape of w, optional
        Tangent of w (default: w held fixed).

    Returns
    -------
    ndarray of the shape of z

    References
    ----------
    Blondel et al. (2020), ICML, Lemma 1 and §5 (Jacobian of isotonic regression and of P_Ψ).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_permutahedron, projection_permutahedron_jvp
    >>> z, w, v = np.array([4.0, 0.5, 1.0]), np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, -1.0])
    >>> projection_permutahedron_jvp(z, w, v)
    array([ 0.,  1., -1.])
    >>> eps = 1e-6
    >>> fd = (projection_permutahedron(z + eps * v, w) - projection_permutahedron(z - eps * v, w)) / (2 * eps)
    >>> print(np.round(fd, 6))
    [ 0.  1. -1.]
    """
    return _projection(z, w, v, v_w, regularization, axis, backend)


def projection_permutahedron_vjp(
    z, w, u, *, regularization: str = "l2", axis: int = -1, backend: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Vector-Jacobian product of :func:`projection_permutahedron`: the cotangents of z and of w for a cotangent u.

    .. math::

        \bar z = (\partial_z P)^\top u, \qquad \bar w = (\partial_w P)^\top u, \qquad
        \langle u, \partial_z P\, v + \partial_w P\, v_w \rangle = \langle \bar z, v\rangle
        + \langle \bar w, v_w\rangle,

    for every tangent (v, v_w). With B the PAV block of entry i (as in :func:`projection_permutahedron_jvp`),
    :math:`\bar z_i = u_i - \tfrac{1}{|B|}\sum_{j \in B} u_j` (Q) and :math:`\bar z_i = \mu_i
    (u_i - \sum_{j \in B} \mu_j u_j / \sum_{j\in B} \mu_j)` (E), a Jacobian symmetric in z, and
    :math:`\bar w_{\tau_i} = \tfrac{1}{|B|}\sum_B u` (Q) or :math:`\operatorname{softmax}(\log w_B)_i
    \sum_B (\mu \odot u) / w_{\tau_i}` (E), where τ sorts w decreasingly and B is the block of rank i. The
    Jacobian in w is not symmetric, so this is not the JVP. Blocks are the solver's own; exact away from the
    measure-zero set where two blocks are about to merge.

    Parameters
    ----------
    z, w, regularization, axis, backend
        As in :func:`projection_permutahedron`.
    u : array_like of the shape of z
        Cotangent of μ (finite).

    Returns
    -------
    z_bar : ndarray of the shape of z
    w_bar : ndarray of the shape of w
        A w of shape (n,) shared by every row receives the sum of the rows' cotangents.

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, Lemma 1 and §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import projection_permutahedron_jvp, projection_permutahedron_vjp
    >>> z, w = np.array([4.0, 0.5, 1.0]), np.array([3.0, 2.0, 1.0])
    >>> u, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -1.0])
    >>> uz, uw = projection_permutahedron_vjp(z, w, u, regularization="kl")
    >>> print(np.round(uz, 4), np.round(uw, 4))
    [ 0.     -1.7625  1.7625] [ 1.     -0.4439 -0.4439]
    >>> lhs = u @ projection_permutahedron_jvp(z, w, v, regularization="kl")
    >>> print(bool(np.isclose(lhs, uz @ v)))
    True
    """
    return _projection_vjp(z, w, u, regularization, axis, backend)


def soft_rank(
    theta, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Soft ranks: a projection of ±θ/ε onto the permutahedron of ρ = (n, n − 1, …, 1).

    .. math::

        r_{\varepsilon}(\theta) = P_\Psi(\theta / \varepsilon, \rho) \;\; \text{(ascending)}, \qquad
        r_{\varepsilon}(\theta) = P_\Psi(-\theta / \varepsilon, \rho) \;\; \text{(descending, the paper's } r\text{)}.

    Ascending ranks put 1 at the smallest entry: as ε → 0 they tend to ``scipy.stats.rankdata(theta)`` (for
    distinct entries; exactly once ε < min gap for "l2", ε < min gap / log 2 for "kl"). As ε → ∞ every rank
    tends to (n + 1)/2 for both regularizations. The output always lies in P(ρ); "kl" ranks are positive. This
    is the convention of google-research/fast-soft-sort (``SoftRank``).

    Parameters
    ----------
    theta : array_like of shape (..., n)
        Finite scores (NaN or ±inf raise ``ValueError``); float32 kept, integers become float64.
    strength : float, default 1.0
        ε, finite and > 0 (``ValueError`` otherwise).
    regularization : {"l2", "kl"}, default "l2"
    direction : {"ascending", "descending"}, default "ascending"
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}, default "auto"
        Which row kernels run: the compiled twins in ``refefl_ext`` ("ext") or their NumPy references ("numpy");
        "auto" (the default) the backend of :func:`refefl.config_context` (the compiled twins when built, unless
        ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    ranks : ndarray of the shape and dtype of theta

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eq. (6)-(7).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_rank
    >>> theta = np.array([3.0, 1.0, 2.0])
    >>> soft_rank(theta, strength=0.1)
    array([3., 1., 2.])
    >>> soft_rank(theta, strength=0.1, direction="descending")
    array([1., 3., 2.])
    >>> soft_rank(theta, strength=2.0)
    array([2.5, 1.5, 2. ])
    >>> print(np.round(soft_rank(theta, strength=2.0, regularization="kl"), 4))
    [3.     1.1326 1.8674]
    """
    return _soft(_rank_rows, theta, None, strength, regularization, direction, axis, backend)


def soft_rank_jvp(
    theta, v, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Jacobian-vector product of :func:`soft_rank` along v (same options).

    .. math::

        \partial r_\varepsilon(\theta)\, v = \pm\varepsilon^{-1}\, \partial_z P_\Psi(\pm\theta/\varepsilon, \rho)\, v

    (sign + for ascending), with :math:`\partial_z P_\Psi` as in :func:`projection_permutahedron_jvp`.

    References
    ----------
    Blondel et al. (2020), ICML, §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_rank, soft_rank_jvp
    >>> theta, v = np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, -1.0])
    >>> soft_rank_jvp(theta, v, strength=2.0)
    array([ 0.5,  0. , -0.5])
    >>> eps = 1e-6
    >>> fd = (soft_rank(theta + eps * v, strength=2.0) - soft_rank(theta - eps * v, strength=2.0)) / (2 * eps)
    >>> print(np.round(fd, 6))
    [ 0.5  0.  -0.5]
    """
    return _soft(_rank_rows, theta, v, strength, regularization, direction, axis, backend)


def soft_rank_vjp(
    theta, u, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Vector-Jacobian product of :func:`soft_rank`: :math:`(\partial r_\varepsilon(\theta))^\top u`.

    .. math::

        (\partial r_\varepsilon(\theta))^\top u = \pm\varepsilon^{-1} (\partial_z P_\Psi)^\top u,

    with :math:`(\partial_z P_\Psi)^\top` as in :func:`projection_permutahedron_vjp` (symmetric in z, so
    this equals :func:`soft_rank_jvp` along u up to rounding; computed as the transpose all the same).

    References
    ----------
    Blondel et al. (2020), ICML, §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_rank_jvp, soft_rank_vjp
    >>> theta, u, v = np.array([3.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0]), np.array([0.5, 1.0, -1.0])
    >>> g = soft_rank_vjp(theta, u, strength=2.0, regularization="kl")
    >>> lhs = u @ soft_rank_jvp(theta, v, strength=2.0, regularization="kl")
    >>> print(np.round(g, 4), bool(np.isclose(lhs, g @ v)))
    [ 0.     -1.0575  1.0575] True
    """
    return _soft(_rank_vjp_rows, theta, u, strength, regularization, direction, axis, backend)


def soft_sort(
    theta, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Soft sort: a projection of ρ/ε onto the permutahedron of θ (or of e^θ, in log space, for "kl").

    .. math::

        s^{Q}_\varepsilon(\theta) = P_Q(\rho/\varepsilon, \theta), \qquad
        s^{E}_\varepsilon(\theta) = \log P_E(\rho/\varepsilon, e^{\theta}) \quad \text{(descending)},

    and the ascending sort is the descending one reversed. Since ρ = (n, …, 1) is decreasing, entry j of the
    output is the soft j-th largest value. As ε → 0 both tend to ``np.sort(theta)`` (exactly, for both, once
    ε < 1 / max gap for "l2"). As ε → ∞ "l2" tends to mean(θ) in every entry, "kl" to log mean(e^θ). The "l2"
    output lies in P(θ); the exponential of the "kl" output lies in P(e^θ). "kl" is fast-soft-sort's log-KL
    sort, which accepts any real θ; unlike fast-soft-sort, its ascending version reverses the descending one
    (rather than negating the sort of −θ), so both directions return the same values.

    Parameters
    ----------
    theta : array_like of shape (..., n)
        Finite values (NaN or ±inf raise ``ValueError``); float32 kept, integers become float64.
    strength : float, default 1.0
        ε, finite and > 0 (``ValueError`` otherwise).
    regularization : {"l2", "kl"}, default "l2"
    direction : {"ascending", "descending"}, default "ascending"
    axis : int, default -1
    backend : {"auto", "numpy", "ext"}, default "auto"
        Which row kernels run: the compiled twins in ``refefl_ext`` ("ext") or their NumPy references ("numpy");
        "auto" (the default) the backend of :func:`refefl.config_context` (the compiled twins when built, unless
        ``REFEFL_PURE_NUMPY=1``).

    Returns
    -------
    sorted : ndarray of the shape and dtype of theta

    References
    ----------
    Blondel, Teboul, Berthet, Djolonga (2020), "Fast Differentiable Sorting and Ranking", ICML, eq. (6)-(7).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_sort
    >>> theta = np.array([3.0, 1.0, 2.0])
    >>> soft_sort(theta, strength=0.1)
    array([1., 2., 3.])
    >>> soft_sort(theta, strength=0.1, direction="descending")
    array([3., 2., 1.])
    >>> soft_sort(theta, strength=2.0)
    array([1.5, 2. , 2.5])
    >>> print(np.round(soft_sort(theta, strength=2.0, regularization="kl"), 4))
    [1.7273 2.2273 2.7273]
    """
    return _soft(_sort_rows, theta, None, strength, regularization, direction, axis, backend)


def soft_sort_jvp(
    theta, v, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Jacobian-vector product of :func:`soft_sort` along v (same options).

    .. math::

        \partial s_\varepsilon(\theta)\, v = B\, v_\tau \;\; \text{(l2)}, \qquad S'\, v_\tau \;\; \text{(kl)},

    with τ sorting θ decreasingly, B averaging each PAV block and S' the within-block mean weighted by
    softmax(θ_B) (reversed for ascending).

    References
    ----------
    Blondel et al. (2020), ICML, §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_sort, soft_sort_jvp
    >>> theta, v = np.array([3.0, 1.0, 2.0]), np.array([1.0, 0.0, 0.0])
    >>> soft_sort_jvp(theta, v, strength=2.0)
    array([0.33333333, 0.33333333, 0.33333333])
    >>> eps = 1e-6
    >>> fd = (soft_sort(theta + eps * v, strength=2.0) - soft_sort(theta - eps * v, strength=2.0)) / (2 * eps)
    >>> print(np.round(fd, 6))
    [0.333333 0.333333 0.333333]
    """
    return _soft(_sort_rows, theta, v, strength, regularization, direction, axis, backend)


def soft_sort_vjp(
    theta, u, *, strength: float = 1.0, regularization: str = "l2", direction: str = "ascending", axis: int = -1,
    backend: str = "auto",
) -> np.ndarray:
    r"""Vector-Jacobian product of :func:`soft_sort`: :math:`(\partial s_\varepsilon(\theta))^\top u`.

    .. math::

        \big((\partial s_\varepsilon(\theta))^\top u\big)_{\tau_i} = \tfrac{1}{|B|} \sum_{j \in B} u_j
        \;\; \text{(l2)}, \qquad \operatorname{softmax}(\theta_{\tau_B})_i \sum_{j \in B} u_j \;\; \text{(kl)},

    for the PAV block B of sorted position i, τ sorting θ decreasingly (u reversed first for ascending). The
    "kl" Jacobian is not symmetric, so this differs from :func:`soft_sort_jvp` along u.

    References
    ----------
    Blondel et al. (2020), ICML, §5.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.projections import soft_sort_jvp, soft_sort_vjp
    >>> theta, u, v = np.array([3.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0]), np.array([0.5, 1.0, -1.0])
    >>> g = soft_sort_vjp(theta, u, strength=2.0, regularization="kl")
    >>> lhs = u @ soft_sort_jvp(theta, v, strength=2.0, regularization="kl")
    >>> print(np.round(g, 4), bool(np.isclose(lhs, g @ v)))
    [1.3305 0.1801 0.4895] True
    """
    return _soft(_sort_vjp_rows, theta, u, strength, regularization, direction, axis, backend)
