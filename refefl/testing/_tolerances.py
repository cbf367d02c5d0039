"""Tolerances keyed to the floating dtype, and an assertion that uses them."""
from __future__ import annotations

import numpy as np

# (rtol, atol) for results that should agree up to rounding of a few dozen operations
_TOLERANCES = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (1e-4, 1e-5)}


def default_tolerance(dtype) -> tuple[float, float]:
    """Return ``(rtol, atol)`` for ``dtype``: (1e-10, 1e-12) for float64, (1e-4, 1e-5) for float32.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.testing import default_tolerance
    >>> default_tolerance(np.float32)
    (0.0001, 1e-05)
    >>> default_tolerance("float64")
    (1e-10, 1e-12)
    """
    return _TOLERANCES[np.dtype(dtype)]


def assert_close(actual, desired, *, dtype=None, scale: float = 1.0, err_msg: str = "") -> None:
    """``numpy.testing.assert_allclose`` with the tolerances of ``dtype`` (default: of ``actual``) times ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.testing import assert_close
    >>> assert_close(np.float32(1.0) + np.float32(3e-5), 1.0)
    >>> assert_close(1.0 + 1e-8, 1.0)
    Traceback (most recent call last):
    ...
    AssertionError: 
    Not equal to tolerance rtol=1e-10, atol=1e-12
    <BLANKLINE>
    Mismatched elements: 1 / 1 (100%)
    Max absolute difference among violations: 9.99999994e-09
    Max relative difference among violations: 9.99999994e-09
     ACTUAL: array(1.)
     DESIRED: array(1.)
    """
    actual = np.asarray(actual)
    rtol, atol = default_tolerance(dtype if dtype is not None else np.result_type(actual, np.float32))
    np.testing.assert_allclose(actual, desired, rtol=rtol * scale, atol=atol * scale, err_msg=err_msg)
