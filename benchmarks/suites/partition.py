"""Partition networks: the log-permanent, the min-min loss and Plackett-Luce sampling (``--suites partition``).

- ``partition_permanent``: :func:`refefl.partition.log_permanent` of one k × k matrix with entries
  :math:`e^{L_{ij}}`, :math:`L_{ij} \\sim N(0, 1)`, against ``thewalrus.perm`` of the same matrix (when installed;
  compared as log per). Both compiled kernels run threads (OpenMP ``prange``, numba ``parallel=True``): for the
  one-core figures run with ``OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1`` (the stamp shows refefl_ext's thread count).
  Agreement is checked to 1e-10 of (1 + |log per|), float64. The floor is the maximum-weight assignment
  (``scipy.optimize.linear_sum_assignment``) that log_permanent's scaling step cannot avoid.
- ``partition_marginals``: the Birkhoff marginals ∂ log per(e^L)/∂L of a minibatch of 16 k × k matrices
  (L ~ N(0, 1)), as an exact-MLE training step needs them: :func:`refefl.partition._permanent.permanent_marginals`
  (subset sums, O(k 2^k)) against the Laplace expansion through the k² minors, each a compiled log-permanent (the
  previous implementation, O(k³ 2^k)). The floor is the compiled log-permanent of the 16 matrices alone (what the
  NLL without its gradient costs).
- ``partition_min_min``: :func:`refefl.partition.min_min_loss` (KL) over (n, m) sampled energies, against one
  ``scipy.special.logsumexp`` over the same array (the floor: a mean of exponentials needs that much).
- ``partition_plackett_luce``: n·m rankings of k items from Plackett-Luce scores, against ``numpy.argsort`` of the
  (n·m, k) array of the same Exp(1) noise (the floor: the sort a race needs). The noise is drawn before timing
  for both sides (:func:`refefl.partition.plackett_luce_sample` and its compiled twin take it as an argument),
  so the ratio compares the sampler with the sort alone; ``Permutations.sample`` is timed as well, with its
  validation and the drawing of the noise (from the same seed, so it returns the same rankings). float64 only:
  the sampler takes float64 scores and noise.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from benchmarks import _peers
from benchmarks._harness import Case, Implementation, Suite, Target, available
from refefl.partition import Permutations, log_permanent, min_min_loss, plackett_luce_sample
from refefl.partition._permanent import permanent_marginals

# -- log-permanent ----------------------------------------------------------------------------------------------
PERMANENT_TARGET = Case((20, 20))
PERMANENT_CASES = tuple(Case((k, k)) for k in (8, 10, 12, 14, 16, 18)) + (PERMANENT_TARGET, Case((24, 24)))


def _permanent_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=case.shape).astype(dtype)


def _thewalrus_perm() -> Implementation | None:
    """``thewalrus.perm`` (numba, BBFG/Glynn formula) of e^L in float64, compared as its logarithm."""
    if not _peers.installed("thewalrus"):
        return None
    from thewalrus import perm

    return Implementation("thewalrus.perm", perm, prepare=lambda x: np.exp(x.astype(np.float64)), to_numpy=np.log)


def _permanent_implementations() -> list[Implementation]:
    return available(
        Implementation("refefl ext", lambda x: log_permanent(x, backend="ext")),
        Implementation("refefl numpy", lambda x: log_permanent(x, backend="numpy")),
        _thewalrus_perm(),
    )


PERMANENT = Suite(
    name="partition_permanent",
    title="Log-permanent of exp(L), L ~ N(0, 1), one k × k matrix",
    cases=PERMANENT_CASES,
    quick_cases=(Case((12, 12)), PERMANENT_TARGET),
    make_input=_permanent_input,
    reference=lambda x: log_permanent(x, backend="numpy"),
    implementations=_permanent_implementations,
    floor=Implementation("scipy linear_sum_assignment (floor)", lambda x: linear_sum_assignment(x, maximize=True)),
    targets=(Target("refefl ext", "thewalrus.perm", 1.0, cases=(PERMANENT_TARGET,)),),
    scaling=tuple(Case((k, k)) for k in range(8, 21)),
    tolerance={"float64": 1e-10},
    agreement_case=Case((10, 10)),
)

# -- Birkhoff marginals (the gradient of the log-permanent) -------------------------------------------------------
MARGINALS_TARGET = Case((16, 11, 11))


def _marginals_by_minors(log_a: np.ndarray) -> np.ndarray:
    """exp(L_ij + log per(e^{L without row i, column j}) − log per(e^L)): k² minors, one compiled log-permanent
    each, in one batch."""
    k = log_a.shape[-1]
    rest = np.nonzero(~np.eye(k, dtype=bool))[1].reshape(k, k - 1)  # rest[i] = every index but i
    minors = log_a[..., rest[:, None, :, None], rest[None, :, None, :]]
    return np.exp(log_a + log_permanent(minors, backend="ext")
                  - np.asarray(log_permanent(log_a, backend="ext"))[..., None, None])


MARGINALS = Suite(
    name="partition_marginals",
    title="Birkhoff marginals dlog per(e^L)/dL of 16 k × k matrices, L ~ N(0, 1)",
    cases=tuple(Case((16, k, k)) for k in (4, 8)) + (MARGINALS_TARGET, Case((16, 14, 14))),
    quick_cases=(MARGINALS_TARGET,),
    make_input=lambda case, dtype, rng: rng.normal(size=case.shape).astype(dtype),
    reference=lambda x: permanent_marginals(x, backend="numpy")[2],
    implementations=lambda: [
        Implementation("refefl ext", lambda x: permanent_marginals(x, backend="ext")[2]),
        Implementation("refefl numpy", lambda x: permanent_marginals(x, backend="numpy")[2]),
        Implementation("Laplace minors (refefl ext log_permanent)", _marginals_by_minors),
    ],
    floor=Implementation("refefl ext log_permanent (floor)", lambda x: log_permanent(x, backend="ext")),
    targets=(Target("refefl ext", "Laplace minors (refefl ext log_permanent)", 0.1, cases=(MARGINALS_TARGET,)),
             Target("refefl ext", "refefl ext log_permanent (floor)", 3.0, cases=(MARGINALS_TARGET,))),
    scaling=tuple(Case((16, k, k)) for k in range(4, 15)),
    agreement_case=Case((4, 6, 6)),
)

# -- min-min loss -------------------------------------------------------------------------------------------------
LOSS_TARGET = Case((10**4, 100))


def _loss_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=case.shape).astype(dtype)


def _loss_arguments(g_samples: np.ndarray):
    """(g_target, g_samples, tau) with τ near the log-partition estimate, as in training (untimed)."""
    tau = (logsumexp(g_samples, axis=1) - np.log(g_samples.shape[1])).astype(g_samples.dtype) + 0.1
    return np.ascontiguousarray(g_samples[:, 0]), g_samples, tau


LOSS = Suite(
    name="partition_min_min",
    title="Min-min loss (KL) over m = 100 sampled energies per example",
    cases=(Case((10**3, 100)), LOSS_TARGET, Case((10**5, 100))),
    quick_cases=(LOSS_TARGET,),
    make_input=_loss_input,
    reference=lambda g: min_min_loss(*_loss_arguments(g)),
    implementations=lambda: [Implementation("refefl numpy", lambda args: min_min_loss(*args),
                                            prepare=_loss_arguments)],
    floor=Implementation("scipy logsumexp (floor)", lambda g: logsumexp(g, axis=1)),
    targets=(Target("refefl numpy", "scipy logsumexp (floor)", 3.0, cases=(LOSS_TARGET,)),),
    scaling=tuple(Case((n, 100)) for n in (10**2, 10**3, 10**4, 10**5)),
    agreement_case=Case((40, 30)),
)

# -- Plackett-Luce sampling -----------------------------------------------------------------------------------------
#: The Exp(1) noise of every case comes from this seed, so that ``Permutations.sample`` draws the same noise.
NOISE_SEED = 1234
PL_TARGET = Case((10**4, 100, 10))


def _pl_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    """Scores and noise in one (n, m + 1, k) array: ``x[:, 0]`` the scores, ``x[:, 1:]`` the Exp(1) draws."""
    n, m, k = case.shape
    x = np.empty((n, m + 1, k))
    x[:, 0] = rng.normal(size=(n, k))
    x[:, 1:] = np.random.default_rng(NOISE_SEED).standard_exponential((n, m, k))
    return x.astype(dtype)


def _pl_arguments(x: np.ndarray):
    """(scores (n, k), noise (n, m, k)), float64 and contiguous (untimed)."""
    return (np.ascontiguousarray(x[:, 0], dtype=np.float64), np.ascontiguousarray(x[:, 1:], dtype=np.float64))


def _pl_output(result) -> np.ndarray:
    """Rankings and log-probabilities in one float64 vector, so that both are compared."""
    sigma, log_prob = result
    return np.concatenate([np.ravel(sigma).astype(np.float64), np.ravel(log_prob)])


def _noise_sort(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x[:, 1:], dtype=np.float64).reshape(-1, x.shape[-1])


def _sample_with_rng(scores: np.ndarray, m: int):
    return Permutations(scores.shape[1]).sample(np.random.default_rng(NOISE_SEED), scores.shape[0], m, scores)


def _compiled_sample(scores: np.ndarray, noise: np.ndarray):
    """The compiled twin of :func:`plackett_luce_sample`, exported by ``refefl_ext`` (the NumPy function takes
    no ``backend``: :meth:`Permutations.sample` picks the twin, and the target concerns the kernel alone)."""
    import refefl_ext

    return refefl_ext.plackett_luce_sample(scores, noise)


def _pl_implementations() -> list[Implementation]:
    return [
        Implementation("refefl ext", lambda args: _compiled_sample(*args),
                       prepare=_pl_arguments, to_numpy=_pl_output),
        Implementation("refefl numpy", lambda args: plackett_luce_sample(*args), prepare=_pl_arguments,
                       to_numpy=_pl_output),
        Implementation("refefl Permutations.sample (ext, checks + noise)", lambda args: _sample_with_rng(*args),
                       prepare=lambda x: (np.ascontiguousarray(x[:, 0], dtype=np.float64), x.shape[1] - 1),
                       to_numpy=_pl_output),
    ]


PLACKETT_LUCE = Suite(
    name="partition_plackett_luce",
    title="Plackett-Luce sampling: n × m rankings of k = 10 items (noise drawn beforehand)",
    cases=(Case((10**3, 100, 10)), PL_TARGET),
    quick_cases=(PL_TARGET,),
    make_input=_pl_input,
    reference=lambda x: _pl_output(plackett_luce_sample(*_pl_arguments(x))),
    implementations=_pl_implementations,
    floor=Implementation("numpy argsort (floor)", lambda noise: np.argsort(noise, axis=-1), prepare=_noise_sort),
    targets=(Target("refefl ext", "numpy argsort (floor)", 2.0, cases=(PL_TARGET,)),),
    scaling=tuple(Case((n, 100, 10)) for n in (10, 10**2, 10**3, 10**4)),
    agreement_case=Case((20, 30, 10)),
    dtypes=("float64",),
)

SUITES = (PERMANENT, MARGINALS, LOSS, PLACKETT_LUCE)
