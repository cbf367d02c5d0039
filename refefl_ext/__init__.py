"""Compiled (Cython) twins of refefl's hot NumPy functions.

Every public kernel here has a NumPy twin of the same name and signature in ``refefl`` (registered with
:func:`refefl._backend.numpy_twin`); a parity test pins each pair together. Kernels trust their inputs:
validation and dtype/layout conversion happen in the public ``refefl`` functions that call them.
Rows are split across OpenMP threads when a batch has enough rows (see ``_config.OPENMP``).
"""
from refefl_ext._build_info import BUILD_FLAGS
from refefl_ext._config import OPENMP, max_threads
from refefl_ext._isotonic import isotonic_kl, isotonic_l2

__all__ = ["BUILD_FLAGS", "OPENMP", "max_threads", "isotonic_l2", "isotonic_kl"]
