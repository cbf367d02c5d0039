"""The one backend switch between refefl's NumPy reference functions and their compiled twins.

A NumPy function with a Cython twin in :mod:`refefl_ext` (same signature, same algorithm) is listed beside the
twin's name in the explicit table :data:`refefl._twins.TABLE` (and marked :func:`numpy_twin` where it is
defined). Public functions call :func:`select` with their ``backend`` argument:

- ``"numpy"``: always the NumPy reference;
- ``"ext"``: the compiled twin (``RuntimeError`` if the extension did not load);
- ``"auto"``: the compiled twin when it loaded and ``REFEFL_PURE_NUMPY`` is not ``1``.

``TWINS`` (:data:`refefl._twins.TWINS`, read through this module) maps each compiled name to its NumPy function;
the parity tests iterate over it.
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


def __getattr__(name: str):
    # TWINS comes from the table, imported on first use: the modules it lists import this one
    if name == "TWINS":
        from refefl._twins import TWINS

        return TWINS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pure_numpy_forced() -> bool:
    """Return True when the environment variable ``REFEFL_PURE_NUMPY=1`` forces the NumPy path."""
    return os.environ.get("REFEFL_PURE_NUMPY", "") == "1"


def numpy_twin(func: Callable) -> Callable:
    """Mark ``func`` as the NumPy twin of the compiled kernel ``refefl_ext.<func.__name__>``.

    Only a marker for the reader (it sets ``func.compiled_twin``); the pairing itself is the row of
    :data:`refefl._twins.TABLE`, and a test checks that the two agree.
    """
    func.compiled_twin = func.__name__
    return func


def ext_kernel(name: str) -> Callable:
    """Return the compiled kernel ``refefl_ext.<name>``; ``RuntimeError`` if the extension is missing."""
    if _ext is None:
        raise RuntimeError(
            "backend='ext' was requested but refefl_ext did not load; reinstall refefl with a C compiler "
            "(pip install -e .) or use backend='numpy'"
        )
    return getattr(_ext, name)


def compiled_name(numpy_func: Callable) -> str:
    """The name in :mod:`refefl_ext` of the compiled twin of ``numpy_func``, from :data:`refefl._twins.TABLE`."""
    from refefl._twins import COMPILED_NAMES  # imported on first use: the modules it lists import this one

    try:
        return COMPILED_NAMES[numpy_func]
    except KeyError:
        raise ValueError(f"{numpy_func.__qualname__} is not a NumPy twin listed in refefl._twins.TABLE") from None


def select(numpy_func: Callable, backend: str = "auto") -> Callable:
    """Return the implementation of ``numpy_func`` to run for ``backend`` ("auto", "numpy" or "ext")."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    name = compiled_name(numpy_func)
    if backend == "numpy":
        return numpy_func
    if backend == "ext":
        return ext_kernel(name)
    if HAVE_EXT and not pure_numpy_forced():
        return ext_kernel(name)
    return numpy_func
