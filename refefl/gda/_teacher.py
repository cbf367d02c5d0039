"""The paper's teacher energy and exact sampling from any ReLU Gibbs measure by rejection."""
from __future__ import annotations

import itertools

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.gda._energy import ReLUEnergy, uniform_sphere

#: the two 3-D teacher directions of the paper's experiments (normalized by :func:`paper_teacher`)
TEACHER_DIRECTIONS = np.array([[-0.4907, 0.7621, 0.4224], [0.4253, -0.3558, -0.8321]])

# above this many attractive neurons the 2^k subset bound is replaced by the (looser) sum of their weights
_MAX_SUBSET_NEURONS = 14


def paper_teacher(dim: int = 3, beta: float = 10.0) -> ReLUEnergy:
    r"""The teacher of the paper's experiments: two attractive ReLU neurons of mass β.

    .. math::

        E_t(x) = -\frac{\beta}{2}\bigl[(\langle x, z_1\rangle)_+ + (\langle x, z_2\rangle)_+\bigr],

    i.e. :class:`ReLUEnergy` with n = 2, signs -1 and masses β (total variation exactly β, the constraint of
    the student). With β = 10 in d = 3, KL(teacher‖uniform) = 0.6325, the paper's initial KL of 0.62–0.64,
    which is how the scale β/2 (not β) per neuron was pinned down. For ``dim > 3`` the 3-D directions are padded
    with zeros (a choice: the paper does not give its d = 15 teacher), which keeps their angle
    (cos = -0.831).

    References
    ----------
    Domingo-Enrich et al. (2022), §5 (numerical experiments; teacher directions as listed in docs/gda.md §4).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> print(teacher.n_neurons, teacher.dim, teacher.signs)
    2 3 [-1. -1.]
    """
    dim = check_positive_int(dim, "dim")
    if dim < 3:
        raise ValueError(f"dim must be at least 3 for the paper's teacher, got {dim}")
    directions = np.zeros((2, dim))
    directions[:, :3] = TEACHER_DIRECTIONS
    return ReLUEnergy(directions, [-1.0, -1.0], [check_positive(beta, "beta")] * 2)


def max_negative_energy(energy: ReLUEnergy) -> float:
    r"""An upper bound B on :math:`\sup_{x \in S^{d-1}} -E(x)`, tight when few neurons attract.

    With :math:`A = \{i: c_i = -1\}` and :math:`a_i = w_i / n`, and S(x) the attractive neurons active at x,

    .. math::

        -E(x) \le \sum_{i\in A} a_i (\langle x, z_i\rangle)_+ = \Bigl\langle x, \sum_{i \in S(x)} a_i z_i
        \Bigr\rangle \le \max_{S \subseteq A} \Bigl\|\sum_{i\in S} a_i z_i\Bigr\|,

    enumerated over the :math:`2^{|A|}` subsets when :math:`|A| \le 14`, else bounded by :math:`\sum_A a_i`.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import max_negative_energy
    >>> print(round(max_negative_energy(teacher), 3))
    5.0
    """
    attract = energy.signs < 0
    a = energy.masses[attract] / energy.n_neurons
    if a.size == 0:
        return 0.0
    if a.size > _MAX_SUBSET_NEURONS:
        return float(np.sum(a))
    vectors = a[:, None] * energy.directions[attract]
    subsets = np.array(list(itertools.product((0.0, 1.0), repeat=a.size)))
    return float(np.max(np.linalg.norm(subsets @ vectors, axis=1)))


def sample_gibbs(energy: ReLUEnergy, n_samples: int, rng: np.random.Generator, *,
                 batch_size: int = 65536) -> np.ndarray:
    r"""Exact samples of :math:`\nu_E \propto e^{-E}\tau` by rejection from the uniform measure τ.

    A proposal :math:`x \sim \tau` is accepted with probability :math:`e^{-E(x) - B} \le 1`, with B from
    :func:`max_negative_energy`; the acceptance rate is :math:`\int e^{-E} d\tau / e^{B}` (about 1.7% for the
    paper's teacher in d = 3).

    Returns
    -------
    ndarray of shape (n_samples, d)

    References
    ----------
    Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022), "Dual training of energy-based models with
    overparametrized shallow neural networks", §5: training data drawn exactly from the teacher
    (the sampler's bound is refefl's).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.gda import paper_teacher
    >>> teacher = paper_teacher()
    >>> from refefl.gda import sample_gibbs
    >>> x = sample_gibbs(teacher, 10, np.random.default_rng(0))
    >>> print(x.shape, np.allclose(np.linalg.norm(x, axis=1), 1.0))
    (10, 3) True
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    bound = max_negative_energy(energy)
    chunks, count = [], 0
    while count < n_samples:
        x = uniform_sphere(rng, check_positive_int(batch_size, "batch_size"), energy.dim)
        keep = x[rng.random(x.shape[0]) < np.exp(-energy.value(x) - bound)]
        chunks.append(keep)
        count += keep.shape[0]
    return np.concatenate(chunks)[:n_samples]
