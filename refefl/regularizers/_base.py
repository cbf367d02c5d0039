"""The regularizer Ω: a convex function over a domain C ⊂ R^k, acting on the last axis, batched over the rest.

A subclass supplies four things: Ω on C (``_value``), membership of C (``_in_domain``), the regularized
prediction ŷ = ∇Ω*(θ) (``_predict``) and its Jacobian-vector product (``_jvp``). The conjugate then follows
from the Fenchel-Young equality Ω*(θ) = ⟨θ, ŷ⟩ − Ω(ŷ), unless a subclass has a better closed form. The geometry
that the iterative maximizers read (∇Ω, Π_C, the tangent space of C, curvature, a coordinate update) is optional
and lives in the subclass too: see :class:`Regularizer`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from refefl._validation import as_float_array, check_same_shape, check_scores, feasibility_tol


def inner_on_support(theta: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Row-wise :math:`\langle \theta, y\rangle` summed over the support of y only.

    A score of ``-inf`` where :math:`y_i = 0` contributes 0 (not NaN), and ``-inf`` where :math:`y_i > 0`
    gives ``-inf``.
    """
    with np.errstate(invalid="ignore"):  # -inf * 0 in the discarded branch
        return np.where(y != 0, theta * y, 0).sum(axis=-1)


#: the optional methods of the subclassing contract (see :class:`Regularizer`)
OPTIONAL_METHODS = ("_gradient", "_project", "_tangent", "_coordinate_update")


def defines(omega: "Regularizer", *methods: str) -> bool:
    """Whether the class of ``omega`` implements each of the optional ``methods`` (overrides the base's)."""
    for method in methods:
        if method not in OPTIONAL_METHODS:
            raise ValueError(f"{method!r} is not an optional Regularizer method; expected one of {OPTIONAL_METHODS}")
    return all(getattr(type(omega), method) is not getattr(Regularizer, method) for method in methods)


def missing_method_message(omega: "Regularizer", method: str, solver: str = "this solver") -> str:
    """The error text for a solver that needs ``method`` of ``omega``, which its class does not define."""
    return (f"{type(omega).__name__} does not define {method}(), which {solver} needs (see the Regularizer "
            "docstring, 'Subclassing'); define it, or use a solver that needs less, such as FrankWolfe")


def require_methods(omega: "Regularizer", solver: str, *methods: str) -> None:
    """``ValueError`` naming the first of the optional ``methods`` that the class of ``omega`` does not define."""
    for method in methods:
        if not defines(omega, method):
            raise ValueError(missing_method_message(omega, method, solver))


class Regularizer(ABC):
    r"""A convex regularizer Ω with domain C, its conjugate and its regularized prediction.

    .. math::

        \Omega^*(\theta) = \max_{y \in C} \langle y, \theta\rangle - \Omega(y), \qquad
        \hat y_\Omega(\theta) = \nabla\Omega^*(\theta) = \operatorname*{argmax}_{y\in C} \langle y,\theta\rangle - \Omega(y).

    All methods act on the last axis and are batched over the leading ones; float32 stays float32, integers
    become float64. Scores ``theta`` may hold ``-inf`` where ``allow_neg_inf`` is True (the coordinate is then
    impossible: ŷ_i = 0); NaN and +inf raise ``ValueError``.

    **Subclassing.** Required: ``_value(y)`` (Ω on C), ``_in_domain(y, tol)`` (membership of C per row),
    ``_predict(theta)`` (ŷ_Ω) and ``_jvp(theta, v)`` (∂ŷ_Ω v). That is all :class:`~refefl.FenchelYoungLoss` and
    :class:`~refefl.maximizers.FrankWolfe` need. The other maximizers read the geometry of Ω from these optional
    members, which each solver checks before it starts (``ValueError`` naming the missing method):

    ``_gradient(y)``
        :math:`\nabla\Omega(y)` on C, up to a multiple of 1 when C lies in a hyperplane {Σ y = const} (a shift
        that ŷ_Ω and Π_C ignore); may be ±inf on the boundary for a Legendre Ω. Needed by
        :class:`~refefl.maximizers.ProjectedGradientAscent` and :class:`~refefl.maximizers.MirrorAscent`.
    ``_project(z)``
        The Euclidean projection :math:`\Pi_C(z) = \operatorname{argmin}_{y \in C} \|y - z\|_2`, row-wise.
        Needed by :class:`~refefl.maximizers.ProjectedGradientAscent`.
    ``_tangent(v)``
        The component of v parallel to the affine hull of C; the default returns v, domains inside a hyperplane
        {Σ y = const} return v − mean(v)·1 (the solvers' inner products ⟨v, y⁺ − y⟩ then stay exact near a
        maximizer instead of multiplying the rounding of Σ(y⁺ − y) = 0 by a large shift).
    ``legendre`` (class attribute, default False)
        Ω is an entropy: the restriction to C of a function of Legendre type, whose gradient is infinite on the
        boundary of its own domain (for the box, simplex and capped simplex, the relative boundary of C; for
        the entropy on the permutahedron, the boundary of the orthant). Ω is then its own mirror map:
        :class:`~refefl.maximizers.MirrorAscent` applies and is the default; projected gradient ascent refuses it.
    ``strong_convexity`` (class attribute or property, default None)
        The modulus μ with :math:`\Omega(y') \ge \Omega(y) + \langle\nabla\Omega(y), y' - y\rangle +
        \tfrac\mu2\|y' - y\|_2^2` on C, or None when Ω is not strongly convex (or μ is not known).
    ``_coordinate_update(field, diag)``
        For a separable Ω on the box [0, 1]^k: the exact maximizer over :math:`t \in [0, 1]` of
        :math:`f t + \tfrac12 d t^2 - \omega(t)` for fields f and diagonal entries d < μ (arrays of shape (m,)),
        which makes :class:`~refefl.maximizers.CoordinateAscent` apply, with ``strong_convexity`` as the bound
        on the diagonal of the pairwise matrix.

    :func:`~refefl.maximizers.default_maximizer` picks a solver from these members alone, so a regularizer
    written in user code, in one file, gets the solver its geometry allows.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §3–4.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.regularizers import Shannon
    >>> omega = Shannon()
    >>> theta = np.array([[1.0, 2.0, 3.0]])
    >>> print(np.round(omega.predict(theta), 4))
    [[0.09   0.2447 0.6652]]
    >>> print(np.round(omega.conjugate(theta), 4))
    [3.4076]
    """

    #: short name used by :func:`refefl.regularizer`
    name: str = ""
    #: whether scores may hold -inf (impossible coordinates)
    allow_neg_inf: bool = True
    #: ∇Ω is infinite on the relative boundary of C (entropic Ω); see "Subclassing" above
    legendre: bool = False
    #: modulus of strong convexity of Ω on C in the Euclidean norm, or None; see "Subclassing" above
    strong_convexity: float | None = None

    # -- public API: validate, then call the math ---------------------------------------------------------------
    def value(self, y) -> np.ndarray:
        """Ω(y) per row; ``ValueError`` if a row of ``y`` is outside the domain C."""
        y = self.check_target(y)
        return self._value(y)

    def conjugate(self, theta) -> np.ndarray:
        r"""Ω*(θ) per row; by default :math:`\langle\theta,\hat y\rangle - \Omega(\hat y)` over the support of ŷ."""
        theta = self.check_theta(theta)
        y_hat = self._predict(theta)
        return inner_on_support(theta, y_hat) - self._value(y_hat)

    def predict(self, theta) -> np.ndarray:
        """The regularized prediction ŷ_Ω(θ) = ∇Ω*(θ), of the shape of θ."""
        return self._predict(self.check_theta(theta))

    def jvp(self, theta, v) -> np.ndarray:
        r"""Jacobian-vector product :math:`\partial \hat y_\Omega(\theta)\, v` (= ∇²Ω*(θ) v), of the shape of θ."""
        theta = self.check_theta(theta)
        v = as_float_array(v, "v")
        check_same_shape(theta, v, "theta", "v")
        if not np.isfinite(v).all():
            raise ValueError("v must be finite")
        return self._jvp(theta, v.astype(theta.dtype, copy=False))

    def vjp(self, theta, u) -> np.ndarray:
        r"""Vector-Jacobian product :math:`(\partial \hat y_\Omega(\theta))^\top u`, of the shape of θ.

        :math:`\hat y_\Omega = \nabla\Omega^*` is a gradient map, so its Jacobian is the Hessian
        :math:`\nabla^2\Omega^*(\theta)`, symmetric wherever it exists: the VJP is the JVP along u. A subclass
        whose prediction map is not a gradient overrides ``_vjp``.
        """
        theta = self.check_theta(theta)
        u = as_float_array(u, "u")
        check_same_shape(theta, u, "theta", "u")
        if not np.isfinite(u).all():
            raise ValueError("u must be finite")
        return self._vjp(theta, u.astype(theta.dtype, copy=False))

    def _vjp(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self._jvp(theta, u)

    def in_domain(self, y, tol: float | None = None) -> np.ndarray:
        """Boolean per row: does y lie in C (up to ``tol``, default sqrt(eps) of the dtype)?"""
        y = as_float_array(y, "y")
        return self._in_domain(y, feasibility_tol(y.dtype) if tol is None else tol)

    # -- validation shared by the methods and by the losses ------------------------------------------------------
    def check_theta(self, theta) -> np.ndarray:
        """Validate scores: float array, non-empty last axis, no NaN/+inf, -inf only if allowed."""
        theta = as_float_array(theta, "theta")
        check_scores(theta, "theta", allow_neg_inf=self.allow_neg_inf)
        return theta

    def check_target(self, y) -> np.ndarray:
        """Validate a target: float array, finite, every row in C (``ValueError`` naming the first bad row)."""
        y = as_float_array(y, "y")
        if not np.isfinite(y).all():
            raise ValueError("y must be finite")
        inside = np.atleast_1d(self._in_domain(y, feasibility_tol(y.dtype)))
        if not inside.all():
            bad = np.unravel_index(int(np.argmin(inside.ravel())), inside.shape)
            raise ValueError(f"y is outside the domain of the {self.name or type(self).__name__!r} regularizer "
                             f"(first bad row {bad})")
        return y

    # -- what a subclass implements -----------------------------------------------------------------------------
    @abstractmethod
    def _value(self, y: np.ndarray) -> np.ndarray:
        """Ω(y) per row for y already known to lie in C."""

    @abstractmethod
    def _in_domain(self, y: np.ndarray, tol: float) -> np.ndarray:
        """Boolean per row (shape ``y.shape[:-1]``): y ∈ C up to ``tol``."""

    @abstractmethod
    def _predict(self, theta: np.ndarray) -> np.ndarray:
        """ŷ(θ) for validated θ."""

    @abstractmethod
    def _jvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """∂ŷ(θ) v for validated θ and v."""

    # -- what a subclass may implement: the geometry read by the iterative maximizers -----------------------------
    def _gradient(self, y: np.ndarray) -> np.ndarray:
        """∇Ω(y) for y in C, up to a shift along the normal of the affine hull of C."""
        raise NotImplementedError(missing_method_message(self, "_gradient"))

    def _project(self, z: np.ndarray) -> np.ndarray:
        """Euclidean projection of each row of z onto C."""
        raise NotImplementedError(missing_method_message(self, "_project"))

    def _tangent(self, v: np.ndarray) -> np.ndarray:
        """The component of v parallel to the affine hull of C (default: v, a full-dimensional C)."""
        return v

    def _coordinate_update(self, field: np.ndarray, diag: np.ndarray) -> np.ndarray:
        """argmax over t ∈ [0, 1] of field·t + diag·t²/2 − ω(t), for a separable Ω on the box."""
        raise NotImplementedError(missing_method_message(self, "_coordinate_update"))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"
