"""Compiled (Cython) twins of refefl's hot NumPy functions.

Every public kernel here has a NumPy twin of the same name and signature in ``refefl`` (registered with
:func:`refefl._backend.numpy_twin`); a parity test pins each pair together. Kernels trust their inputs:
validation and dtype/layout conversion happen in the public ``refefl`` functions that call them.
Rows are split across OpenMP threads when a batch has enough rows (see ``_config.OPENMP``).

The kernels' parallel regions are short (often well under a millisecond). With OpenMP's default, threads
that finish early spin at the closing barrier, and on a machine whose cores are also busy with other work
they steal the time the last thread needs: a 0.2 ms call was measured taking 12 ms. So, unless the user set
it, ``OMP_WAIT_POLICY`` is set to ``PASSIVE`` before the OpenMP runtime loads (it reads the variable once).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from refefl_ext._build_info import BUILD_FLAGS  # noqa: E402  (after the OpenMP setting above)
from refefl_ext._capped_entropic import capped_entropic_rows
from refefl_ext._capped_simplex import projection_capped_simplex_rows
from refefl_ext._config import OPENMP, max_threads
from refefl_ext._coordinate import coordinate_ascent_box
from refefl_ext._entmax import entmax15_rows, entmax_bisect_rows
from refefl_ext._gda import data_moment, walker_pass
from refefl_ext._isotonic import isotonic_kl, isotonic_l2
from refefl_ext._permanent import log_permanent_batch
from refefl_ext._permutahedron import order_keys, projection_permutahedron_rows
from refefl_ext._plackett_luce import plackett_luce_sample
from refefl_ext._simplex import projection_simplex_rows

__all__ = [
    "BUILD_FLAGS",
    "OPENMP",
    "max_threads",
    "isotonic_l2",
    "isotonic_kl",
    "projection_simplex_rows",
    "entmax15_rows",
    "entmax_bisect_rows",
    "order_keys",
    "projection_permutahedron_rows",
    "projection_capped_simplex_rows",
    "capped_entropic_rows",
    "walker_pass",
    "data_moment",
    "coordinate_ascent_box",
    "log_permanent_batch",
    "plackett_luce_sample",
]
