r"""One GDA iteration as one kernel: :func:`gda_iteration`, the NumPy reference of its compiled twin
(``refefl_ext._gda``).

One iteration of :func:`refefl.gda.train_gda` (after its restart check and noise draw) is three passes:

- :func:`walker_pass`: per walker, its pre-activations, the tangential energy gradient, the Langevin move, its
  new activation pattern and its share of the walker moment of the witness;
- :func:`data_moment`: per data point, its activation pattern and its share of the data moment;
- the neuron step from the witness (n rows, :func:`refefl.gda.neuron_step`).

:func:`gda_iteration` composes them; its compiled twin makes one pass over each set of rows and never stores an
(rows × n) matrix of pre-activations, and the whole iteration is one call. It is a row kernel: C-contiguous
inputs of one float dtype (float32 or float64), outputs written into the buffers given, no validation
(:func:`refefl.gda.train_gda` checks and converts once, before its loop). The moments are summed in double for
both dtypes.

References
----------
Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
overparametrized shallow neural networks": the particle update and the neuron velocity of the GDA (docs/gda.md §2;
algorithm and equation numbers unconfirmed).
"""
from __future__ import annotations

import numpy as np

from refefl._backend import numpy_twin
from refefl.gda._energy import ReLUEnergy, tangent_project
from refefl.gda._langevin import _particle_step
from refefl.gda._neurons import _neuron_step


@numpy_twin
def gda_iteration(data, walkers, directions, signs, masses, noise, step_x, step_z, step_w, beta, out_walkers,
                  out_directions, out_masses) -> None:
    r"""One GDA iteration: the walkers' Langevin step with antithetic noise, the witness, the neuron step.

    With :math:`N` data points and :math:`M = 2N` walkers, ``noise`` holds N standard Gaussian draws ξ and the
    walkers receive :math:`[\xi; -\xi]` (:func:`refefl.gda.antithetic_noise`). Then

    .. math::

        y' = \mathrm{normalize}\bigl(y - h_x \nabla_S E(y) + \sqrt{2h_x}\,[\xi; -\xi]\bigr), \qquad
        D_i = \frac1N m_i(x) - \frac1M m_i(y'),

    with the moments :math:`m_i` of :func:`data_moment` (D rounded to the dtype), and the neuron step from D
    (:func:`refefl.gda.neuron_step`: directions with :math:`h_z`, masses with :math:`h_w` under mean(w) ≤ β).

    Parameters
    ----------
    data : ndarray of shape (N, d), float32 or float64, C-contiguous
    walkers : ndarray of shape (2N, d), dtype of data, C-contiguous
    directions : ndarray of shape (n, d), dtype of data, C-contiguous
        Unit neuron directions :math:`z_i`.
    signs, masses : ndarray of shape (n,), dtype of data
        :math:`c_i = \pm 1` and :math:`w_i \ge 0`.
    noise : ndarray of shape (N, d), dtype of data, C-contiguous
        Standard Gaussian draws ξ.
    step_x, step_z, step_w, beta : float
        :math:`h_x, h_z, h_w \ge 0` and :math:`\beta > 0`.
    out_walkers : ndarray of shape (2N, d), dtype of data, C-contiguous
        Receives :math:`y'`.
    out_directions, out_masses : ndarrays of shapes (n, d) and (n,), dtype of data, C-contiguous
        Receive the neurons after the step.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the GDA iteration (docs/gda.md §2, steps 2–3; numbers
    unconfirmed).
    """
    energy = ReLUEnergy._trusted(directions, signs, masses)
    walker_sum, data_sum = np.empty(directions.shape), np.empty(directions.shape)
    walker_pass(walkers, directions, energy.output_weights, step_x, np.concatenate([noise, -noise]), out_walkers,
                walker_sum)
    data_moment(data, directions, data_sum)
    witness = (data_sum / data.shape[0] - walker_sum / walkers.shape[0]).astype(data.dtype)
    energy = _neuron_step(energy, witness, step_z, step_w, beta)
    out_directions[...], out_masses[...] = energy.directions, energy.masses


def data_moment(points, directions, moment) -> None:
    r"""The activation moment of a point set at every neuron, summed in double.

    .. math::

        m_i = \sum_j \mathbb 1[\langle x_j, z_i\rangle > 0]\, x_j ,

    (the ReLU's derivative at 0 taken as 0). Divided by the number of points, it is the data (or walker) term
    of the witness gradient :math:`D_i` (:func:`refefl.gda.witness_gradient`).

    Parameters
    ----------
    points : ndarray of shape (m, d), float32 or float64, C-contiguous
    directions : ndarray of shape (n, d), dtype of points, C-contiguous
    moment : ndarray of shape (n, d), float64, C-contiguous; receives m
    """
    active = (points @ directions.T > 0).astype(np.float64)
    np.matmul(active.T, points.astype(np.float64), out=moment)


def walker_pass(walkers, directions, output_weights, step, noise, out, moment) -> None:
    r"""One Langevin step of every walker, and the activation moment of the moved walkers.

    With pre-activations :math:`u_{ki} = \langle y_k, z_i\rangle` and second-layer weights
    :math:`a_i = w_i c_i / n`:

    .. math::

        \nabla_S E(y_k) = \Bigl(I - \frac{y_k y_k^\top}{\|y_k\|^2}\Bigr)
                          \sum_i a_i\, \mathbb 1[u_{ki} > 0]\, z_i ,\qquad
        y'_k = \frac{y_k - h\, \nabla_S E(y_k) + \sqrt{2h}\, \xi_k}
                    {\| y_k - h\, \nabla_S E(y_k) + \sqrt{2h}\, \xi_k \|},

        m_i = \sum_k \mathbb 1[\langle y'_k, z_i\rangle > 0]\, y'_k ,

    that is :func:`refefl.gda.particle_step` followed by :func:`data_moment` of the moved walkers (with the
    pattern of the rounded :math:`y'`, as stored in ``out``).

    Parameters
    ----------
    walkers : ndarray of shape (m, d), float32 or float64, C-contiguous
        :math:`y_k`.
    directions : ndarray of shape (n, d), dtype of walkers, C-contiguous
        Unit neuron directions :math:`z_i`.
    output_weights : ndarray of shape (n,), dtype of walkers
        :math:`a_i = w_i c_i / n` (:attr:`ReLUEnergy.output_weights`).
    step : float
        :math:`h \ge 0`.
    noise : ndarray of shape (m, d), dtype of walkers, C-contiguous
        Standard Gaussian draws :math:`\xi_k` (e.g. :func:`refefl.gda.antithetic_noise`).
    out : ndarray of shape (m, d), dtype of walkers, C-contiguous
        Receives :math:`y'`.
    moment : ndarray of shape (n, d), float64, C-contiguous
        Receives :math:`m`.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the particle update of the GDA and the neuron velocity it feeds
    (docs/gda.md §2, steps 2–3; numbers unconfirmed).
    """
    active = (walkers @ directions.T > 0).astype(walkers.dtype)
    grad = tangent_project(active @ (output_weights[:, None] * directions), walkers)
    out[...] = _particle_step(walkers, grad, step, noise)
    data_moment(out, directions, moment)
