"""The table of twins: every NumPy reference kernel beside the name of its compiled twin in :mod:`refefl_ext`.

Each pair has the same signature and computes the same thing (the same algorithm, to rounding); the NumPy
function is the readable reference and the fallback when the extension is not built. :func:`refefl._backend.select`
picks one of a pair, the parity tests (``tests/test_parity.py``) iterate over this table, and a test checks that it
lists every kernel that :mod:`refefl_ext` exports. A new compiled kernel gets its row here.

The table is imported lazily (by :func:`refefl._backend.select` at its first call): the modules below import
``refefl._backend`` themselves.
"""
from __future__ import annotations

from collections.abc import Callable

from refefl.gda._kernels import gda_iteration
from refefl.maximizers._coordinate import coordinate_ascent_box
from refefl.nn._optim import adam_update
from refefl.partition._permanent import log_permanent_batch, permanent_marginals_batch
from refefl.partition._plackett_luce import plackett_luce_sample
from refefl.projections._capped_simplex import capped_entropic_rows, projection_capped_simplex_rows
from refefl.projections._entmax import entmax15_rows, entmax_bisect_rows
from refefl.projections._isotonic import isotonic_kl, isotonic_l2
from refefl.projections._permutahedron_kernels import order_keys, projection_permutahedron_rows
from refefl.projections._simplex import projection_simplex_rows

#: (NumPy twin, name of the compiled kernel in refefl_ext)
TABLE: tuple[tuple[Callable, str], ...] = (
    (isotonic_l2, "isotonic_l2"),
    (isotonic_kl, "isotonic_kl"),
    (projection_simplex_rows, "projection_simplex_rows"),
    (entmax15_rows, "entmax15_rows"),
    (entmax_bisect_rows, "entmax_bisect_rows"),
    (order_keys, "order_keys"),
    (projection_permutahedron_rows, "projection_permutahedron_rows"),
    (projection_capped_simplex_rows, "projection_capped_simplex_rows"),
    (capped_entropic_rows, "capped_entropic_rows"),
    (gda_iteration, "gda_iteration"),
    (coordinate_ascent_box, "coordinate_ascent_box"),
    (log_permanent_batch, "log_permanent_batch"),
    (permanent_marginals_batch, "permanent_marginals_batch"),
    (plackett_luce_sample, "plackett_luce_sample"),
    (adam_update, "adam_update"),
)

#: compiled name -> NumPy twin
TWINS: dict[str, Callable] = {name: func for func, name in TABLE}
#: NumPy twin -> compiled name
COMPILED_NAMES: dict[Callable, str] = {func: name for func, name in TABLE}
