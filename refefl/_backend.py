"""The one backend switch between refefl's NumPy reference functions and their compiled twins.

A NumPy function that has a Cython twin in :mod:`refefl_ext` is decorated with :func:`numpy_twin`; the twin has
the same name and signature. Public functions call :func:`select` with their ``backend`` argument:

- ``"numpy"``: always the NumPy reference;
- ``"ext"``: the compiled twin (``RuntimeError`` if the extension did not load);
- ``"auto"``: the compiled twin when it loaded and ``REFEFL_PURE_NUMPY`` is not ``1``.

``TWINS`` maps each name to its NumPy function; the parity tests and the benchmarks iterate over it.
"""
from __future__ import annotations

import os
from collections.abc import Callable

try:
    import refefl_ext as _ext
except ImportError:  # the extension was not built: the NumPy reference still works
    _ext = None

HAVE_EXT: bool = _ext is not None
BACKENDS = ("auto", "numpy", "ext")
TWINS: dict[str, Callable] = {}


def pure_numpy_forced() -> bool:
    """Return True when the environment variable ``REFEFL_PURE_NUMPY=1`` forces the NumPy path."""
    return os.environ.get("REFEFL_PURE_NUMPY", "") == "1"


def numpy_twin(func: Callable) -> Callable:
    """Register ``func`` as the NumPy reference of the compiled kernel ``refefl_ext.<func.__name__>``."""
    TWINS[func.__name__] = func
    return func


def ext_kernel(name: str) -> Callable:
    """Return the compiled kernel ``refefl_ext.<name>``; ``RuntimeError`` if the extension is missing."""
    if _ext is None:
        raise RuntimeError(
            "backend='ext' was requested but refefl_ext did not load; reinstall refefl with a C compiler "
            "(pip install -e .) or use backend='numpy'"
        )
    return getattr(_ext, name)


def select(numpy_func: Callable, backend: str = "auto") -> Callable:
    """Return the implementation of ``numpy_func`` to run for ``backend`` ("auto", "numpy" or "ext")."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        return numpy_func
    if backend == "ext":
        return ext_kernel(numpy_func.__name__)
    if HAVE_EXT and not pure_numpy_forced():
        return ext_kernel(numpy_func.__name__)
    return numpy_func
