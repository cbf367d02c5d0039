r"""The descent player of the GDA: neuron transport on the sphere and multiplicative mass updates.

Every update is driven by the *witness* of the current particles μ against the data ν_n,

.. math::

    G(z) = \int (\langle x, z\rangle)_+ \, d(\nu_n - \mu)(x), \qquad
    D_i = \nabla_z G(z_i) = \int \mathbb 1[\langle x, z_i\rangle > 0]\, x \, d(\nu_n - \mu)(x),

(the ambient gradient, with the ReLU extended 1-homogeneously off the sphere). Euler's identity for the
1-homogeneous ReLU gives the mass gradient for free: :math:`a_i = G(z_i) = \langle D_i, z_i\rangle`. The MLE
objective :math:`P = \int E\, d\nu_n + \log\int e^{-E} d\tau` has :math:`\partial_{w_i} P = c_i a_i / n` and
:math:`\nabla_{z_i} P = w_i c_i D_i / n` when μ = ν_E; the updates below drop the factors :math:`1/n` and
:math:`w_i/n` (mean-field, Wasserstein-Fisher-Rao scaling).
"""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive
from refefl.gda._energy import ReLUEnergy, check_points, normalize_rows, tangent_project


def witness_gradient(energy: ReLUEnergy, data, walkers, *, data_weights=None, walker_weights=None) -> np.ndarray:
    r"""Gradient of the witness :math:`G(z) = \sum_j p_j (\langle x_j, z\rangle)_+ - \sum_k q_k (\langle y_k,
    z\rangle)_+` at every neuron direction.

    .. math::

        D_i = \sum_j p_j \mathbb 1[\langle x_j, z_i\rangle > 0]\, x_j
              - \sum_k q_k \mathbb 1[\langle y_k, z_i\rangle > 0]\, y_k ,

    with uniform weights :math:`p_j = 1/N`, :math:`q_k = 1/M` unless given (weights are used as they are).

    Parameters
    ----------
    energy : ReLUEnergy
    data : array_like of shape (N, d)
    walkers : array_like of shape (M, d)
    data_weights, walker_weights : array_like of shape (N,) and (M,), optional

    Returns
    -------
    ndarray of shape (n, d)
        :math:`D_i = \nabla_z G(z_i)`; the mass gradient is :math:`\langle D_i, z_i\rangle = G(z_i)`.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks": the neuron velocity of the GDA (equation number unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import witness_gradient
    >>> data = teacher.directions
    >>> print(np.round(witness_gradient(teacher, data, data), 4))
    [[0. 0. 0.]
     [0. 0. 0.]]
    """
    x, y = energy._points(data), check_points(walkers, energy.dim, "walkers")
    p = _weights(data_weights, x.shape[0], "data_weights")
    q = _weights(walker_weights, y.shape[0], "walker_weights")
    z = energy.directions
    return _moment(x, (x @ z.T > 0).astype(x.dtype), p) - _moment(y, (y @ z.T > 0).astype(y.dtype), q)


def _weights(weights, size: int, name: str) -> np.ndarray:
    if weights is None:
        return np.full(size, 1.0 / size)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (size,) or not np.all(np.isfinite(weights)):
        raise ValueError(f"{name} must be a finite array of shape ({size},)")
    return weights


def _moment(points: np.ndarray, active: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    r""":math:`\sum_j p_j \mathbb 1[u_{ji} > 0]\, x_j` for every neuron i, with uniform weights when None."""
    if weights is None:
        return (active.T @ points) / points.shape[0]
    return active.T @ (weights[:, None] * points)


def direction_step(directions, signs, witness, step: float) -> np.ndarray:
    r"""Transport of the neuron directions on the sphere (descent on the MLE objective).

    .. math::

        z_i \leftarrow \frac{z_i - h_z\, g_i}{\|z_i - h_z\, g_i\|}, \qquad
        g_i = c_i\, (I - z_i z_i^\top)\, D_i ,

    with :math:`D_i` the witness gradient (:func:`witness_gradient`). :math:`h_z = 0` freezes the directions
    (lazy regime). Returns ndarray of shape (n, d).

    References
    ----------
    Domingo-Enrich et al. (2022), the neuron (feature) update of the GDA algorithm (number unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import direction_step
    >>> z = direction_step(np.array([[0.0, 0.0, 1.0]]), np.array([1.0]), np.array([[1.0, 0.0, 0.0]]), 0.1)
    >>> print(np.round(z, 4))
    [[-0.0995  0.      0.995 ]]
    """
    z = check_points(directions, None, "directions")
    witness = check_points(witness, z.shape[1], "witness")
    signs = np.asarray(signs, dtype=z.dtype)
    if witness.shape != z.shape or signs.shape != z.shape[:1]:
        raise ValueError(f"witness must have shape {z.shape} and signs ({z.shape[0]},)")
    return _direction_step(z, signs, witness, check_positive(step, "step", strict=False))


def _direction_step(z: np.ndarray, signs: np.ndarray, witness: np.ndarray, step: float) -> np.ndarray:
    if step == 0:
        return z
    return normalize_rows(z - step * tangent_project(signs[:, None] * witness, z))


def mass_step(masses, signs, mass_gradient, step: float, beta: float) -> np.ndarray:
    r"""Multiplicative (Fisher-Rao / mirror-descent) mass update under the total-variation constraint.

    .. math::

        \tilde w_i = w_i \exp(-h_w\, c_i\, a_i), \qquad
        w = \tilde w \cdot \min\Bigl(1, \frac{\beta}{\mathrm{mean}(\tilde w)}\Bigr),

    with :math:`a_i = G(z_i)` the witness at the (old) neuron directions. The rescaling is the Bregman (KL)
    projection onto :math:`\{w \ge 0: \mathrm{mean}(w) \le \beta\}`. Computed in the log domain, so a huge
    :math:`h_w a_i` saturates the constraint instead of overflowing. Zero masses stay zero.

    Returns
    -------
    ndarray of shape (n,)

    References
    ----------
    Domingo-Enrich et al. (2022), the mass update of the GDA in the feature-learning and lazy regimes (equation
    number unconfirmed); β is the bound on the F1 norm of the energy.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import mass_step
    >>> print(np.round(mass_step(np.array([10.0, 10.0]), np.array([1.0, -1.0]), np.array([1.0, 1.0]), 0.1, 10.0), 4))
    [ 9.0033 10.9967]
    """
    masses = np.asarray(masses, dtype=np.float64)
    signs = np.asarray(signs, dtype=np.float64)
    grad = np.asarray(mass_gradient, dtype=np.float64)
    if masses.ndim != 1 or signs.shape != masses.shape or grad.shape != masses.shape:
        raise ValueError("masses, signs and mass_gradient must be 1-D arrays of the same shape")
    if np.any(masses < 0) or not np.all(np.isfinite(masses)) or not np.all(np.isfinite(grad)):
        raise ValueError("masses must be finite and non-negative, mass_gradient finite")
    return _mass_step(masses, signs, grad, check_positive(step, "step", strict=False),
                      check_positive(beta, "beta"))


def _mass_step(masses: np.ndarray, signs: np.ndarray, grad: np.ndarray, step: float, beta: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        log_w = np.log(masses) - step * signs * grad
    top = np.max(log_w)
    if not np.isfinite(top):  # every mass is zero
        return np.zeros_like(masses)
    scaled = np.exp(log_w - top)
    mean = np.mean(scaled)
    # compare log(mean) + top with log(beta) to decide without forming exp(top), which may overflow
    if np.log(mean) + top > np.log(beta):
        return scaled * (beta / mean)
    return scaled * np.exp(top)


def neuron_step(energy: ReLUEnergy, witness, *, step_z: float, step_w: float, beta: float) -> ReLUEnergy:
    r"""One descent step of the neurons: :func:`direction_step` and :func:`mass_step` from the same witness.

    The mass gradient :math:`a_i = \langle D_i, z_i\rangle` uses the old directions (a simultaneous update of
    z and w). Returns a new :class:`ReLUEnergy`.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import neuron_step, witness_gradient
    >>> data = teacher.directions
    >>> g = witness_gradient(teacher, data, data)
    >>> print(np.round(neuron_step(teacher, g, step_z=0.1, step_w=0.1, beta=10.0).masses, 4))
    [10. 10.]
    """
    witness = check_points(witness, energy.dim, "witness")
    if witness.shape != energy.directions.shape:
        raise ValueError(f"witness must have shape {energy.directions.shape}, got {witness.shape}")
    return _neuron_step(energy, witness, check_positive(step_z, "step_z", strict=False),
                        check_positive(step_w, "step_w", strict=False), check_positive(beta, "beta"))


def _neuron_step(energy: ReLUEnergy, witness: np.ndarray, step_z: float, step_w: float, beta: float) -> ReLUEnergy:
    z, c = energy.directions, energy.signs
    grad_w = np.einsum("ij,ij->i", witness, z)
    masses = _mass_step(energy.masses.astype(np.float64), c, grad_w, step_w, beta).astype(z.dtype)
    return ReLUEnergy._trusted(_direction_step(z, c, witness, step_z), c, masses)
