r"""First-order maximizers of F(y) = Φ(y) − Ω(y) over C for any differentiable energy: projected gradient ascent,
mirror ascent and Frank-Wolfe (generalized conditional gradient), each with per-row backtracking.

All three stop a row when its stationarity :math:`\|y - \hat y_\Omega(\nabla_y\Phi(y))\|_\infty` is at most
``tol``. A step is accepted when it passes a sufficient-ascent test on F, so F increases even when Φ is not
concave in y (the solvers then find a stationary point). Near a maximizer the ascent that test asks for falls below
the rounding error of F (a few ulps of |Φ| + |Ω|) and the test can no longer judge a step: projected gradient
and mirror ascent then check the step size against the curvature of F along the step, measured with gradients
(which keep their accuracy there); Frank-Wolfe, which knows Ω only through ŷ_Ω and Ω, takes there the γ that
minimizes the linearized fixed-point residual ‖ŷ_Ω(∇_yΦ(y⁺)) − y⁺‖₂ and requires that the residual decreases.
"""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive
from refefl.maximizers._base import Maximizer, MaximizerInfo, backtrack, objective, rounding_slack
from refefl.regularizers._base import inner_on_support, require_methods


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


class _Backtracking(Maximizer):
    """The loop shared by the three solvers: test stationarity, backtrack a step per row, accept, adapt.

    A subclass provides ``_init_state`` (the start y and its dual state, or None) and ``_proposal``, which returns
    ``propose(step) -> ((y_new, F(y_new), state_new, ∇Φ(y_new), validated), ok)``; ``validated`` marks accepted
    steps whose test was decisive, after which the step may double (up to ``_max_growth`` × ``step_size``).
    """

    _max_growth = 1.0

    def __init__(self, *, max_iter: int, tol: float | None, step_size: float):
        super().__init__(max_iter=max_iter, tol=tol)
        self.step_size = check_positive(step_size, "step_size")

    def _maximize(self, energy, omega, params, y0) -> tuple[np.ndarray, MaximizerInfo]:
        y, state = self._init_state(energy, omega, params, y0)
        value, grad_phi = objective(energy, omega, params, y), energy._grad_y(params, y)
        tol = self._tol(y.dtype)
        step = np.full(y.shape[0], self.step_size, dtype=y.dtype)
        active = np.ones(y.shape[0], dtype=bool)
        for iterations in range(self.max_iter + 1):
            target = omega._predict(grad_phi)
            active &= np.abs(y - target).max(axis=1) > tol
            if not active.any() or iterations == self.max_iter:
                return self._finish(energy, omega, params, y, iterations, not active.any())
            omega_y = omega._value(y)
            context = (value, omega_y, rounding_slack(value, omega_y), grad_phi, target)
            propose = self._proposal(energy, omega, params, y, state, *context)
            (y_new, value_new, state_new, grad_new, validated), step, ok = backtrack(propose, step, active)
            accept = active & ok
            rows = accept[:, None]
            y, value = np.where(rows, y_new, y), np.where(accept, value_new, value)
            grad_phi = np.where(rows, grad_new, grad_phi)
            state = None if state is None else np.where(rows, state_new, state)
            grown = np.minimum(2 * step, self._max_growth * self.step_size)
            step = np.where(accept & validated, grown, step)


class ProjectedGradientAscent(_Backtracking):
    r"""Projected gradient ascent :math:`y \leftarrow \Pi_C\big(y + \eta\,(\nabla_y\Phi(y) - \nabla\Omega(y))\big)`.

    For regularizers differentiable on all of C: not ``legendre``, with ∇Ω (``_gradient``) and the projection Π_C
    (``_project``) (``ValueError`` for a Legendre Ω: use :class:`MirrorAscent`; ``ValueError`` naming a missing
    method), e.g. ``"box_squared"``, ``"sparsemax"``, ``"tsallis"``, ``"capped_squared"``, ``"perm_squared"``.
    Per-row step sizes start at ``step_size``, are halved until
    the sufficient-ascent test :math:`F(y^+) \ge F(y) + \langle\nabla F(y), d\rangle - \|d\|^2/(2\eta)`,
    d = y⁺ − y, holds (in the rounding regime: :math:`-\langle\nabla F(y^+) - \nabla F(y), d\rangle \le
    \|d\|^2/\eta`, the curvature of F along d is at most 1/η), and doubled after each accepted step (at most
    1e6 × ``step_size``).

    Parameters
    ----------
    max_iter : int, default 1000
    tol : float or None
        Stop a row when :math:`\|y - \hat y_\Omega(\nabla_y\Phi(y))\|_\infty \le` tol (default sqrt(eps)).
    step_size : float, default 1.0
        Initial η.

    References
    ----------
    Beck, Teboulle (2009), "A Fast Iterative Shrinkage-Thresholding Algorithm for Linear Inverse Problems",
    SIAM J. Imaging Sci. 2(1), §1.1 and the backtracking rule of §3 (here for ascent, without momentum).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> from refefl.maximizers import ProjectedGradientAscent
    >>> from refefl.regularizers import BoxSquared
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> A = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y_hat, info = ProjectedGradientAscent(max_iter=2000, tol=1e-10).maximize(Quadratic(), BoxSquared(), (theta, A))
    >>> print(np.round(y_hat, 3), info.converged)
    [[1.  0.  0.5]] True
    """

    _max_growth = 1e6

    def __init__(self, *, max_iter: int = 1000, tol: float | None = None, step_size: float = 1.0):
        super().__init__(max_iter=max_iter, tol=tol, step_size=step_size)

    def check_supported(self, energy, regularizer) -> None:
        if regularizer.legendre:
            raise ValueError(
                f"ProjectedGradientAscent needs Ω differentiable on its domain, but {regularizer!r} is Legendre "
                "(∇Ω is infinite on the boundary); use MirrorAscent or FrankWolfe"
            )
        require_methods(regularizer, "ProjectedGradientAscent", "_gradient", "_project")

    def _init_state(self, energy, omega, params, y0):
        return self._start(energy, omega, params, y0), None

    def _proposal(self, energy, omega, params, y, state, value, omega_y, slack, grad_phi, target):
        grad_f = omega._tangent(grad_phi - omega._gradient(y))

        def propose(step):
            y_new = omega._project(y + step[:, None] * grad_f)
            value_new, grad_new = objective(energy, omega, params, y_new), energy._grad_y(params, y_new)
            d = y_new - y
            model = _dot(d, d) / (2 * step)
            decisive = model > slack
            curvature = -_dot(omega._tangent(grad_new - omega._gradient(y_new)) - grad_f, d)
            ok = np.where(decisive, value_new >= value + _dot(grad_f, d) - model - slack, curvature <= 2 * model)
            return (y_new, value_new, y_new, grad_new, np.ones_like(ok)), ok

        return propose


def _bregman_curvature(omega, y: np.ndarray, y_new: np.ndarray) -> np.ndarray:
    r""":math:`\langle\nabla\Omega(y^+) - \nabla\Omega(y), y^+ - y\rangle \ge 0` from the two points (not from the dual
    iterates, whose components normal to a face of C are large and would multiply the rounding error of y⁺ − y).
    Coordinates that did not move contribute 0, also where ∇Ω is infinite."""
    d = y_new - y
    with np.errstate(invalid="ignore"):
        change = np.where(d != 0, omega._gradient(y_new) - omega._gradient(y), 0)
    return _dot(omega._tangent(change), d)


class MirrorAscent(_Backtracking):
    r"""Mirror ascent with Ω itself as the mirror map, for entropic regularizers.

    .. math::

        \nabla\Omega(y^+) = \nabla\Omega(y) + \eta\,\nabla F(y), \quad\text{i.e.}\quad
        y^+ = \hat y_\Omega\big((1 - \eta)\, u + \eta\, \nabla_y\Phi(y)\big),\ u = \nabla\Omega(y),

    for Legendre regularizers with ∇Ω (``legendre`` and ``_gradient``; ``ValueError`` for a regularizer that is not
    Legendre or lacks ``_gradient``), e.g. ``"binary_entropy"``, ``"shannon"``,
    ``"capped_entropy"``, ``"perm_entropy"``. The dual variable u
    is carried along, so saturated coordinates (ŷ_i = 0 or 1 in floating point) never need log 0. With η = 1 the
    step is the fixed-point (mean-field) update :math:`y^+ = \hat y_\Omega(\nabla_y\Phi(y))`, exact in one step
    for bilinear energies. Steps are halved until the relative-smoothness test :math:`F(y^+) \ge F(y) +
    \langle\nabla F(y), d\rangle - D_\Omega(y^+, y)/\eta` holds (in the rounding regime:
    :math:`-\langle\nabla\Phi(y^+) - \nabla\Phi(y), d\rangle \le (1/\eta - 1)\langle\nabla\Omega(y^+) -
    \nabla\Omega(y), d\rangle`) and
    doubled after acceptance (at most 1). A warm start on the boundary of C is first moved towards
    :math:`\hat y_\Omega(0)` by sqrt(eps).

    Parameters
    ----------
    max_iter : int, default 1000
    tol : float or None
        Stop a row when :math:`\|y - \hat y_\Omega(\nabla_y\Phi(y))\|_\infty \le` tol (default sqrt(eps)).
    step_size : float, default 1.0
        Initial η (at most 1).

    References
    ----------
    Beck, Teboulle (2003), "Mirror descent and nonlinear projected subgradient methods for convex optimization",
    Oper. Res. Lett. 31(3); Bauschke, Bolte, Teboulle (2017), "A Descent Lemma Beyond Lipschitz Gradient
    Continuity", Math. Oper. Res. 42(2), Lemma 5 (relative smoothness, the test above).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> from refefl.maximizers import MirrorAscent
    >>> from refefl.regularizers import BinaryEntropy
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> A = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y_hat, info = MirrorAscent(max_iter=2000, tol=1e-10).maximize(Quadratic(), BinaryEntropy(), (theta, A))
    >>> print(np.round(y_hat, 3), info.converged)
    [[0.723 0.086 0.622]] True
    """

    def __init__(self, *, max_iter: int = 1000, tol: float | None = None, step_size: float = 1.0):
        super().__init__(max_iter=max_iter, tol=tol, step_size=step_size)
        if self.step_size > 1:
            raise ValueError(f"step_size must be at most 1 for MirrorAscent, got {step_size}")

    def check_supported(self, energy, regularizer) -> None:
        if not regularizer.legendre:
            raise ValueError(
                f"MirrorAscent needs an entropic (Legendre) Ω, got {regularizer!r} (legendre = False); use "
                "ProjectedGradientAscent or FrankWolfe"
            )
        require_methods(regularizer, "MirrorAscent", "_gradient")

    def _init_state(self, energy, omega, params, y0):
        if y0 is None:
            center = omega._predict(np.zeros(energy.output_shape(params), dtype=energy.output_dtype(params)))
            u = energy._grad_y(params, center)
        else:
            y0 = self._start(energy, omega, params, y0)
            u = omega._gradient(y0)
            boundary = ~np.isfinite(u).all(axis=1)
            if boundary.any():
                delta = np.sqrt(np.finfo(y0.dtype).eps)
                center = omega._predict(np.zeros_like(y0[boundary]))
                u[boundary] = omega._gradient((1 - delta) * y0[boundary] + delta * center)
        return np.ascontiguousarray(omega._predict(u)), u

    def _proposal(self, energy, omega, params, y, u, value, omega_y, slack, grad_phi, target):
        grad_f = omega._tangent(grad_phi - u)

        def propose(step):
            u_new = u + step[:, None] * grad_f
            y_new = omega._predict(u_new)
            value_new, grad_new = objective(energy, omega, params, y_new), energy._grad_y(params, y_new)
            d = y_new - y
            model = (omega._value(y_new) - omega_y - _dot(omega._tangent(u), d)) / step  # D_Ω(y⁺, y) / η
            decisive = model > slack
            curvature = -_dot(omega._tangent(grad_new - grad_phi), d)
            ok = np.where(decisive, value_new >= value + _dot(grad_f, d) - model - slack,
                          curvature <= (1 / step - 1) * _bregman_curvature(omega, y, y_new))
            return (y_new, value_new, u_new, grad_new, np.ones_like(ok)), ok

        return propose


class FrankWolfe(_Backtracking):
    r"""Frank-Wolfe with the regularized linear oracle (generalized conditional gradient), for any Ω.

    .. math::

        s = \hat y_\Omega(\nabla_y\Phi(y)) = \operatorname*{argmax}_{s \in C} \langle\nabla_y\Phi(y), s\rangle -
        \Omega(s), \qquad y^+ = y + \gamma\,(s - y),

    with γ ∈ (0, 1] halved until :math:`F(y^+) \ge F(y) + \tfrac{\gamma}{2}\,g(y)`, where
    :math:`g(y) = \langle\nabla_y\Phi(y), s - y\rangle + \Omega(y) - \Omega(s) \ge 0` is the duality gap (a lower
    bound on the directional derivative of F along s − y, so the test passes for small γ), and doubled (at most
    1) after a step whose test was decisive. In the rounding regime (see the module docstring) γ minimizes the
    linearized residual ‖s⁺ − y⁺‖₂ (one secant estimate from a trial step) and must make it decrease. The oracle
    is the regularized prediction itself, so every registered regularizer is supported and the iterates stay in C.

    Parameters
    ----------
    max_iter : int, default 1000
    tol : float or None
        Stop a row when :math:`\|y - s\|_\infty \le` tol (default sqrt(eps)).

    References
    ----------
    Bach (2015), "Duality Between Subgradient and Conditional Gradient Methods", SIAM J. Optim. 25(1), §3
    (generalized conditional gradient); Frank, Wolfe (1956), Naval Res. Logist. Q. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.energies import Quadratic
    >>> from refefl.maximizers import FrankWolfe
    >>> from refefl.regularizers import BoxSquared
    >>> theta = np.array([[1.0, -2.0, 0.5]])
    >>> A = np.array([[0.0, -0.5, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> y_hat, info = FrankWolfe(max_iter=2000, tol=1e-10).maximize(Quadratic(), BoxSquared(), (theta, A))
    >>> print(np.round(y_hat, 3), info.converged)
    [[1.  0.  0.5]] True
    """

    def __init__(self, *, max_iter: int = 1000, tol: float | None = None):
        super().__init__(max_iter=max_iter, tol=tol, step_size=1.0)

    def _init_state(self, energy, omega, params, y0):
        return self._start(energy, omega, params, y0), None

    def _proposal(self, energy, omega, params, y, state, value, omega_y, slack, grad_phi, target):
        d = target - y
        gap = np.maximum(inner_on_support(omega._tangent(grad_phi), d) + omega_y - omega._value(target), 0)

        def evaluate(step):
            y_new = y + step[:, None] * d
            grad_new = energy._grad_y(params, y_new)
            return y_new, objective(energy, omega, params, y_new), grad_new, omega._predict(grad_new) - y_new

        def propose(step):
            y_new, value_new, grad_new, d_new = evaluate(step)
            model = step * gap / 2
            decisive = model > slack
            if not decisive.all():
                # rounding regime: the residual is about d − γ M d; take the γ of least residual along it
                m_d = (d - d_new) / step[:, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    best = np.clip(_dot(d, m_d) / _dot(m_d, m_d), 0, 1)
                gamma = np.where(decisive | ~(best > 0), step, best)
                y_new, value_new, grad_new, d_new = evaluate(gamma)
            ok = np.where(decisive, value_new >= value + model - slack, _dot(d_new, d_new) < _dot(d, d))
            return (y_new, value_new, y_new, grad_new, decisive), ok

        return propose
