"""Shallow ReLU energies on the sphere: value, gradients in x (ambient and tangential) and in (z, w).

Geometry helpers (row normalization, tangent projection, uniform points) live here because every other module of
:mod:`refefl.gda` uses them.
"""
from __future__ import annotations

import numpy as np

from refefl._validation import as_float_array, check_finite, check_positive_int, common_float_dtype
from refefl._validation import feasibility_tol


def normalize_rows(v: np.ndarray) -> np.ndarray:
    r"""Rows of ``v`` divided by their Euclidean norm, :math:`v_i / \|v_i\|` (the retraction onto the sphere).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import normalize_rows
    >>> print(normalize_rows(np.array([[3.0, 4.0]])))
    [[0.6 0.8]]
    """
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def tangent_project(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Component of each row of ``v`` orthogonal to the matching row of ``x``: :math:`v - \langle v, x\rangle
    x / \|x\|^2`, the projection onto the tangent space of the sphere through ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import tangent_project
    >>> print(tangent_project(np.array([[1.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])))
    [[0. 1. 0.]]
    """
    radial = np.einsum("ij,ij->i", v, x) / np.einsum("ij,ij->i", x, x)
    return v - radial[:, None] * x


def uniform_sphere(rng: np.random.Generator, n_points: int, dim: int) -> np.ndarray:
    """``n_points`` independent points uniform on the unit sphere S^{dim-1}, ndarray of shape (n_points, dim).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import uniform_sphere
    >>> x = uniform_sphere(np.random.default_rng(0), 5, 3)
    >>> print(x.shape, np.allclose(np.linalg.norm(x, axis=1), 1.0))
    (5, 3) True
    """
    return normalize_rows(rng.standard_normal((n_points, dim)))


def check_points(x, dim: int | None, name: str = "x") -> np.ndarray:
    """``x`` as a finite float array of shape (m, dim) (any dim >= 1 when ``dim`` is None), m >= 1.

    Raises ``TypeError`` for a non-float dtype and ``ValueError`` for a wrong shape, NaN or inf, naming ``name``.
    """
    x = as_float_array(x, name)
    if x.ndim != 2 or x.shape[0] == 0 or (dim is not None and x.shape[1] != dim):
        expected = "dim" if dim is None else dim
        raise ValueError(f"{name} must have shape (n_points, {expected}) with n_points >= 1, got {x.shape}")
    check_finite(x, name)
    return x


def check_on_sphere(x: np.ndarray, name: str = "data") -> None:
    """Raise ``ValueError`` naming the first row of ``x`` whose norm is not 1 to sqrt(eps) of its dtype.

    The energy and its Gibbs measure live on the unit sphere: a zero row (no direction) or a row of norm 5 has
    no place there, and normalizing it silently would train on other data than the user's.
    """
    norms = np.linalg.norm(x, axis=1)
    off = np.flatnonzero(~(np.abs(norms - 1) <= feasibility_tol(x.dtype)))
    if off.size:
        raise ValueError(f"{name} must lie on the unit sphere: row {off[0]} has norm {norms[off[0]]:.6g} "
                         f"({off.size} row(s) off the sphere); normalize the rows (gda.normalize_rows)")


class ReLUEnergy:
    r"""Shallow ReLU energy on the sphere :math:`S^{d-1}`, with fixed signs and non-negative masses.

    .. math::

        E(x) = \frac1n \sum_{i=1}^n w_i c_i\, (\langle x, z_i \rangle)_+ ,\qquad
        \nu_E(dx) = \frac{e^{-E(x)}}{\int e^{-E}\, d\tau}\, \tau(dx),

    with directions :math:`z_i \in S^{d-1}`, signs :math:`c_i = \pm 1` and masses :math:`w_i \ge 0`; τ is the
    uniform probability measure on the sphere. :math:`c_i = -1` neurons attract the model density to the cap
    :math:`\langle x, z_i\rangle > 0`. The total variation of the neuron measure is :math:`\mathrm{mean}(w)`.

    Parameters
    ----------
    directions : array_like of shape (n, d)
        Neuron directions; each row is normalized to unit length (a zero row raises ``ValueError``).
    signs : array_like of shape (n,)
        Fixed output signs, each +1 or -1.
    masses : array_like of shape (n,)
        Non-negative finite masses.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §2 (the F1 energy class on the sphere; equation number
    unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import ReLUEnergy
    >>> energy = ReLUEnergy(np.array([[0.0, 0.0, 1.0]]), np.array([1.0]), np.array([2.0]))
    >>> print(np.round(energy.value(np.array([[0.0, 0.6, 0.8], [0.0, 0.0, -1.0]])), 4))
    [1.6 0. ]
    """

    __slots__ = ("directions", "signs", "masses")

    def __init__(self, directions, signs, masses) -> None:
        directions = check_points(directions, None, "directions")
        norms = np.linalg.norm(directions, axis=1)
        if np.any(norms == 0):
            raise ValueError("directions must have non-zero rows")
        n = directions.shape[0]
        signs = as_float_array(signs, "signs")
        if signs.shape != (n,) or not np.all(np.abs(signs) == 1):
            raise ValueError(f"signs must be an array of shape ({n},) holding +1 or -1")
        masses = as_float_array(masses, "masses")
        if masses.shape != (n,):
            raise ValueError(f"masses must have shape ({n},), got {masses.shape}")
        check_finite(masses, "masses")
        if np.any(masses < 0):
            raise ValueError("masses must be non-negative")
        dtype = common_float_dtype(directions, masses)
        self._set((directions / norms[:, None]).astype(dtype), signs.astype(dtype), masses.astype(dtype, copy=True))

    def _set(self, directions: np.ndarray, signs: np.ndarray, masses: np.ndarray) -> None:
        self.directions, self.signs, self.masses = directions, signs, masses

    @classmethod
    def _trusted(cls, directions: np.ndarray, signs: np.ndarray, masses: np.ndarray) -> "ReLUEnergy":
        """Build without validation: the training loop's steps keep the invariants themselves."""
        energy = cls.__new__(cls)
        energy._set(directions, signs, masses)
        return energy

    @classmethod
    def random(cls, n_neurons: int, dim: int, rng: np.random.Generator, *, mass: float = 1.0,
               sign: float | None = None) -> "ReLUEnergy":
        """Directions uniform on the sphere, every mass equal to ``mass``; signs alternating +1, -1 when ``sign``
        is None (balanced), else all equal to ``sign`` (+1 or -1)."""
        n_neurons, dim = check_positive_int(n_neurons, "n_neurons"), check_positive_int(dim, "dim")
        signs = np.where(np.arange(n_neurons) % 2 == 0, 1.0, -1.0) if sign is None else np.full(n_neurons, sign)
        return cls(uniform_sphere(rng, n_neurons, dim), signs, np.full(n_neurons, float(mass)))

    # -- shapes and scalars -------------------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.directions.shape[0]

    @property
    def dim(self) -> int:
        return self.directions.shape[1]

    @property
    def output_weights(self) -> np.ndarray:
        r""":math:`w_i c_i / n`, ndarray of shape (n,): the second-layer weights."""
        return self.masses * self.signs / self.n_neurons

    def total_variation(self) -> float:
        r"""TV of the neuron measure, :math:`\mathrm{mean}_i\, w_i` (the F1 norm the constraint bounds by β)."""
        return float(np.mean(self.masses))

    # -- values and gradients -----------------------------------------------------------------------------------
    def preactivations(self, x) -> np.ndarray:
        r""":math:`u_{ji} = \langle x_j, z_i\rangle`, ndarray of shape (m, n)."""
        return self._points(x) @ self.directions.T

    def value(self, x) -> np.ndarray:
        r""":math:`E(x_j)`, ndarray of shape (m,)."""
        return np.maximum(self.preactivations(x), 0) @ self.output_weights

    def grad_x(self, x, *, tangential: bool = True) -> np.ndarray:
        r"""Gradient of E in x, ndarray of shape (m, d).

        Ambient: :math:`\nabla E(x) = \frac1n \sum_i w_i c_i \mathbb 1[\langle x, z_i\rangle > 0]\, z_i`
        (the ReLU's derivative at 0 is taken as 0). Tangential (``tangential=True``, the Riemannian gradient on
        the sphere through x): :math:`\nabla_S E(x) = (I - x x^\top / \|x\|^2)\nabla E(x)`.
        """
        x = self._points(x)
        return self._grad_x(x, (x @ self.directions.T > 0).astype(x.dtype), tangential=tangential)

    def _grad_x(self, x: np.ndarray, active: np.ndarray, *, tangential: bool) -> np.ndarray:
        """Gradient from a precomputed float activation pattern ``active = 1[x @ z.T > 0]`` of shape (m, n)."""
        # a float pattern: NumPy's boolean matmul does not use BLAS and is ~30x slower
        grad = active @ (self.output_weights[:, None] * self.directions)
        return tangent_project(grad, x) if tangential else grad

    def grad_params(self, x, weights=None) -> tuple[np.ndarray, np.ndarray]:
        r"""Gradients of :math:`F = \sum_j q_j E(x_j)` in the directions (ambient) and the masses.

        .. math::

            \nabla_{z_i} F = \frac{w_i c_i}{n} \sum_j q_j \mathbb 1[\langle x_j, z_i\rangle > 0]\, x_j, \qquad
            \partial_{w_i} F = \frac{c_i}{n} \sum_j q_j (\langle x_j, z_i\rangle)_+ ,

        with :math:`q_j = 1/m` when ``weights`` is None. Returns ndarrays of shapes (n, d) and (n,).
        """
        x = self._points(x)
        q = np.full(x.shape[0], 1.0 / x.shape[0]) if weights is None else np.asarray(weights, dtype=x.dtype)
        if q.shape != (x.shape[0],) or not np.all(np.isfinite(q)):
            raise ValueError(f"weights must be a finite array of shape ({x.shape[0]},)")
        u = x @ self.directions.T
        moment = (u > 0).T.astype(x.dtype) @ (q[:, None] * x)
        grad_w = self.signs / self.n_neurons * (q @ np.maximum(u, 0))
        return self.output_weights[:, None] * moment, grad_w

    def _points(self, x) -> np.ndarray:
        x = check_points(x, self.dim)
        return x.astype(np.result_type(x, self.directions), copy=False)

    def __repr__(self) -> str:
        return f"ReLUEnergy(n_neurons={self.n_neurons}, dim={self.dim}, tv={self.total_variation():.4g})"
