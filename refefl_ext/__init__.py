"""Compiled (Cython) twins of refefl's hot NumPy functions.

Every public kernel here has a NumPy twin of the same name and signature in ``refefl``, running the same
algorithm (the pairs are listed in ``refefl._twins.TABLE``); a parity test pins each pair together. Kernels
trust their inputs: validation and dtype/layout conversion happen in the public ``refefl`` functions that call
them.
Rows are split across OpenMP threads when a batch has enough rows (see ``_config.OPENMP``).

The kernels' parallel regions are short (often well under a millisecond). With OpenMP's default, threads
that finish early spin at the closing barrier, and on a machine whose cores are also busy with other work
they steal the time the last thread needs: a 0.2 ms call was measured taking 12 ms. So, unless the user set
it, the OpenMP runtime is loaded (with the first kernel below) under ``OMP_WAIT_POLICY=PASSIVE``; the runtime
reads the variable once, when it loads, and the variable is removed again right after, so the process
environment (and that of its child processes) is left as the user had it. If another library loaded the OpenMP
runtime first, set ``OMP_WAIT_POLICY=PASSIVE`` yourself before starting Python.
"""
import os
from contextlib import contextmanager


@contextmanager
def _passive_wait_while_loading():
    """``OMP_WAIT_POLICY=PASSIVE`` for the duration of the block only, unless the user set the variable."""
    if "OMP_WAIT_POLICY" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        del os.environ["OMP_WAIT_POLICY"]


from refefl_ext._build_info import BUILD_FLAGS  # noqa: E402

with _passive_wait_while_loading():  # the first compiled module loads the OpenMP runtime, which reads it
    from refefl_ext._adam import adam_update
    from refefl_ext._capped_entropic import capped_entropic_rows
    from refefl_ext._capped_simplex import projection_capped_simplex_rows
    from refefl_ext._config import OPENMP, max_threads
    from refefl_ext._coordinate import coordinate_ascent_box
    from refefl_ext._entmax import entmax15_rows, entmax_bisect_rows
    from refefl_ext._gda import gda_iteration
    from refefl_ext._isotonic import isotonic_kl, isotonic_l2
    from refefl_ext._permanent import log_permanent_batch, permanent_marginals_batch
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
    "gda_iteration",
    "coordinate_ascent_box",
    "log_permanent_batch",
    "permanent_marginals_batch",
    "plackett_luce_sample",
    "adam_update",
]
