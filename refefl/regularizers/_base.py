"""The regularizer Ω: a convex function over a domain C ⊂ R^k, acting on the last axis, batched over the rest.

A subclass supplies four things: Ω on C (``_value``), membership of C (``_in_domain``), the regularized
prediction ŷ = ∇Ω*(θ) (``_predict``) and its Jacobian-vector product (``_jvp``). The conjugate then follows
from the Fenchel-Young equality Ω*(θ) = ⟨θ, ŷ⟩ − Ω(ŷ), unless a subclass has a better closed form.
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


class Regularizer(ABC):
    r"""A convex regularizer Ω with domain C, its conjugate and its regularized prediction.

    .. math::

        \Omega^*(\theta) = \max_{y \in C} \langle y, \theta\rangle - \Omega(y), \qquad
        \hat y_\Omega(\theta) = \nabla\Omega^*(\theta) = \operatorname*{argmax}_{y\in C} \langle y,\theta\rangle - \Omega(y).

    All methods act on the last axis and are batched over the leading ones; float32 stays float32, integers
    become float64. Scores ``theta`` may hold ``-inf`` where ``allow_neg_inf`` is True (the coordinate is then
    impossible: ŷ_i = 0); NaN and +inf raise ``ValueError``.

    References
    ----------
    Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §3–4.
    """

    #: short name used by :func:`refefl.regularizer`
    name: str = ""
    #: whether scores may hold -inf (impossible coordinates)
    allow_neg_inf: bool = True

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
            raise ValueError(f"y is outside the domain of the {self.name!r} regularizer (first bad row {bad})")
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

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"
