r"""Row kernels of one GDA iteration, the NumPy references of their compiled twins (``refefl_ext._gda``).

One iteration of :func:`refefl.gda.train_gda` needs, besides the neuron update (n rows, cheap):

- :func:`walker_pass`: per walker, its pre-activations, the tangential energy gradient, the Langevin move, its
  new activation pattern and its share of the walker moment of the witness;
- :func:`data_moment`: per data point, its activation pattern and its share of the data moment.

Each is one pass over its rows, so the compiled twins never store an (rows × n) matrix of pre-activations.
Both are row kernels: C-contiguous inputs of one float dtype (float32 or float64), outputs written into the
buffers given, no validation (:class:`refefl.gda._training._Walkers` checks and converts). The moments are summed
in double for both dtypes.

References
----------
Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
overparametrized shallow neural networks": the particle update and the neuron velocity of the GDA (docs/gda.md §2;
algorithm and equation numbers unconfirmed).
"""
from __future__ import annotations

import numpy as np

from refefl._backend import numpy_twin
from refefl.gda._energy import tangent_project
from refefl.gda._langevin import _particle_step


@numpy_twin
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


@numpy_twin
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
