"""Langevin walkers on the sphere: the ascent player of the GDA (particles μ in the dual problem)."""
from __future__ import annotations

import math

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.gda._energy import ReLUEnergy, check_points, normalize_rows, uniform_sphere


def antithetic_noise(rng: np.random.Generator, n_pairs: int, dim: int, dtype=np.float64) -> np.ndarray:
    r"""Standard Gaussian noise in antithetic pairs, :math:`[\xi; -\xi]`, ndarray of shape (2 n_pairs, dim).

    Walker k and walker k + n_pairs receive opposite noise. Started at the same point (a restart), the pair's
    average of any smooth φ then has no :math:`O(\sqrt h)` noise term: the p_R = 1 update estimates the
    score-matching gradient with variance O(h²) instead of O(h).

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the experiments' antithetic walkers (docs/gda.md §2;
    section unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import antithetic_noise
    >>> xi = antithetic_noise(np.random.default_rng(0), 2, 3)
    >>> print(xi.shape, np.allclose(xi[:2], -xi[2:]))
    (4, 3) True
    """
    xi = rng.standard_normal((n_pairs, dim)).astype(dtype, copy=False)
    return np.concatenate([xi, -xi])


def restart_walkers(data) -> np.ndarray:
    """Walkers restarted at the data, two per point (for antithetic noise): ``[x; x]`` of shape (2 N, d).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import restart_walkers
    >>> restart_walkers(np.array([[1.0, 0.0, 0.0]])).shape
    (2, 3)
    """
    data = check_points(data, None, "data")
    return np.concatenate([data, data])


def particle_step(walkers, energy: ReLUEnergy, step: float, noise) -> np.ndarray:
    r"""One Langevin step on the sphere for every walker (the ascent step of the GDA on the particles).

    .. math::

        y_k \leftarrow \frac{y_k - h_x \nabla_S E(y_k) + \sqrt{2 h_x}\, \xi_k}
                            {\| y_k - h_x \nabla_S E(y_k) + \sqrt{2 h_x}\, \xi_k \|},

    with :math:`\nabla_S E` the tangential gradient and ambient Gaussian noise ξ (its radial part only rescales
    and is removed by the normalization). To first order in :math:`h_x` this is the Euler step of
    :math:`dY = -\nabla_S E(Y)\,dt + \sqrt 2\, dB_S`, whose generator is :math:`-\langle\nabla_S E,
    \nabla_S\cdot\rangle + \Delta_S` (the normalization supplies the drift :math:`-(d-1) h_x y` of Brownian
    motion on :math:`S^{d-1}`), invariant measure :math:`\nu_E \propto e^{-E}\tau`.

    Parameters
    ----------
    walkers : array_like of shape (m, d)
    energy : ReLUEnergy
    step : float
        :math:`h_x \ge 0`.
    noise : array_like of shape (m, d)
        Standard Gaussian draws, e.g. :func:`antithetic_noise`.

    Returns
    -------
    ndarray of shape (m, d)
        The moved walkers, on the unit sphere.

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", the particle update of the GDA algorithm (algorithm and equation
    numbers unconfirmed).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import particle_step
    >>> walkers = np.tile([[0.0, 0.0, 1.0]], (2, 1))
    >>> out = particle_step(walkers, teacher, 0.02, np.zeros((2, 3)))
    >>> print(np.round(np.linalg.norm(out, axis=1), 4))
    [1. 1.]
    """
    walkers = energy._points(walkers)
    noise = check_points(noise, energy.dim, "noise")
    if noise.shape != walkers.shape:
        raise ValueError(f"noise must have the shape of walkers {walkers.shape}, got {noise.shape}")
    step = check_positive(step, "step", strict=False)
    active = (walkers @ energy.directions.T > 0).astype(walkers.dtype)
    return _particle_step(walkers, energy._grad_x(walkers, active, tangential=True), step, noise)


def _particle_step(walkers: np.ndarray, grad: np.ndarray, step: float, noise: np.ndarray) -> np.ndarray:
    """:func:`particle_step` from the tangential gradient at the walkers (no validation)."""
    # math.sqrt: a Python float keeps float32 walkers float32 (NumPy's float64 scalar would promote them)
    return normalize_rows(walkers - step * grad + math.sqrt(2 * step) * noise)


def langevin(energy: ReLUEnergy, walkers, *, step: float, n_steps: int, rng: np.random.Generator,
             antithetic: bool = False) -> np.ndarray:
    r"""``n_steps`` Langevin steps (:func:`particle_step`) with the energy frozen: a sampler of
    :math:`\nu_E \propto e^{-E}\tau` up to an O(h) discretization bias.

    With ``antithetic=False`` the walkers get independent noise, so after mixing they are independent draws;
    ``antithetic=True`` needs an even number of walkers. ``walkers`` may also be an int: that many walkers
    started uniformly on the sphere. Returns ndarray of shape (m, d).

    References
    ----------
    Roberts, Tweedie (1996), "Exponential convergence of Langevin distributions and their discrete
    approximations", Bernoulli 2(4) (the unadjusted Langevin algorithm and its O(h) bias).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> walkers = np.tile([[0.0, 0.0, 1.0]], (4, 1))
    >>> from refefl.gda import langevin
    >>> out = langevin(teacher, walkers, step=0.02, n_steps=10, rng=np.random.default_rng(0))
    >>> print(out.shape, np.allclose(np.linalg.norm(out, axis=1), 1.0))
    (4, 3) True
    """
    if not isinstance(walkers, np.ndarray) and np.ndim(walkers) == 0:
        walkers = uniform_sphere(rng, check_positive_int(walkers, "walkers"), energy.dim)
    y = energy._points(walkers)
    step = check_positive(step, "step", strict=False)
    if antithetic and y.shape[0] % 2:
        raise ValueError(f"antithetic noise needs an even number of walkers, got {y.shape[0]}")
    for _ in range(check_positive_int(n_steps, "n_steps")):
        noise = (antithetic_noise(rng, y.shape[0] // 2, energy.dim, y.dtype) if antithetic
                 else rng.standard_normal(y.shape).astype(y.dtype, copy=False))
        active = (y @ energy.directions.T > 0).astype(y.dtype)
        y = _particle_step(y, energy._grad_x(y, active, tangential=True), step, noise)
    return y
