"""The one backend switch between refefl's NumPy reference functions and their compiled twins.

A NumPy function with a Cython twin in :mod:`refefl_ext` (same signature, same algorithm) is listed beside the
twin's name in the explicit table :data:`refefl._twins.TABLE` (and marked :func:`numpy_twin` where it is
defined). Public functions call :func:`select` with their ``backend`` argument:

- ``"numpy"``: always the NumPy reference;
- ``"ext"``: the compiled twin;
- ``"auto"`` (every default): the backend of the enclosing :func:`config_context`, itself ``"auto"`` unless set,
  which is the compiled twin when it loaded and ``REFEFL_PURE_NUMPY`` is not ``1``.

An explicit request for ``"ext"`` (argument or context) raises ``ValueError`` when the extension did not load or
``REFEFL_PURE_NUMPY=1`` forbids it: refefl never falls back silently from a backend that was asked for.

``TWINS`` (:data:`refefl._twins.TWINS`, read through this module) maps each compiled name to its NumPy function;
the parity tests iterate over it.
"""
from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

try:
    import refefl_ext as _ext
except ImportError:  # the extension was not built: the NumPy reference still works
    _ext = None

HAVE_EXT: bool = _ext is not None
BACKENDS = ("auto", "numpy", "ext")

# one value per thread and per asyncio task: a new thread starts at the default
_CONFIG_BACKEND: contextvars.ContextVar[str] = contextvars.ContextVar("refefl_backend", default="auto")


def __getattr__(name: str):
    # TWINS comes from the table, imported on first use: the modules it lists import this one
    if name == "TWINS":
        from refefl._twins import TWINS

        return TWINS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pure_numpy_forced() -> bool:
    """Return True when the environment variable ``REFEFL_PURE_NUMPY=1`` forces the NumPy path."""
    return os.environ.get("REFEFL_PURE_NUMPY", "") == "1"


def ext_runs() -> bool:
    """Whether ``backend="ext"`` can run here: :mod:`refefl_ext` loaded and ``REFEFL_PURE_NUMPY`` is not ``1``."""
    return HAVE_EXT and not pure_numpy_forced()


def check_backend(backend: str, name: str = "backend") -> str:
    """Return ``backend`` if it names a backend that can run here; ``ValueError`` naming ``name`` otherwise.

    ``"ext"`` can run only when :mod:`refefl_ext` loaded and ``REFEFL_PURE_NUMPY`` is not ``1``.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"{name} must be one of {BACKENDS}, got {backend!r}")
    if backend == "ext" and not HAVE_EXT:
        raise ValueError(
            f"{name}='ext' asks for the compiled kernels, but refefl_ext did not load; reinstall refefl with a C "
            "compiler (pip install -e .) or use 'numpy'"
        )
    if backend == "ext" and pure_numpy_forced():
        raise ValueError(f"{name}='ext' asks for the compiled kernels, but REFEFL_PURE_NUMPY=1 forbids them")
    return backend


def get_config() -> dict[str, str]:
    """Return refefl's configuration in force here: ``{"backend": ...}``, as set by :func:`config_context`.

    Examples
    --------
    >>> import refefl
    >>> refefl.get_config()
    {'backend': 'auto'}
    """
    return {"backend": _CONFIG_BACKEND.get()}


@contextmanager
def config_context(*, backend: str | None = None) -> Iterator[None]:
    """Run a block of code with the backend chosen for every refefl function left at ``backend="auto"``.

    Inside the block, each public function that has a compiled twin and is called without an explicit
    ``backend`` (or with ``"auto"``) runs the backend given here, and so do the regularizers, losses and maximizers
    that call them (they take no ``backend`` of their own). An explicit ``backend="numpy"`` or ``"ext"`` argument
    still wins. Contexts nest; leaving one, by its end or by an exception, restores the backend in force before.
    The setting is per thread (a :class:`contextvars.ContextVar`): a thread or process started inside the block
    begins at the default ``"auto"``.

    ``REFEFL_PURE_NUMPY=1`` in the environment makes ``"auto"`` mean NumPy; asking for ``"ext"`` while it is set
    is an error, as is asking for it when :mod:`refefl_ext` was not built: refefl never falls back silently.

    Parameters
    ----------
    backend : {"auto", "numpy", "ext"} or None, default None
        "numpy" runs the NumPy references, "ext" the compiled twins in :mod:`refefl_ext`, "auto" the compiled
        twins when built unless ``REFEFL_PURE_NUMPY=1``; None leaves the backend in force unchanged.

    Raises
    ------
    ValueError
        If ``backend`` is not one of the above, or is "ext" while the extension did not load or
        ``REFEFL_PURE_NUMPY=1``.

    See Also
    --------
    get_config : the configuration in force.

    Examples
    --------
    >>> import numpy as np
    >>> import refefl
    >>> with refefl.config_context(backend="numpy"):
    ...     print(refefl.get_config()["backend"], refefl.sparsemax(np.array([1.0, 0.5, -1.0])))
    numpy [0.75 0.25 0.  ]
    >>> refefl.get_config()["backend"]
    'auto'
    >>> with refefl.config_context(backend="gpu"):
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: backend must be one of ('auto', 'numpy', 'ext'), got 'gpu'
    """
    if backend is None:
        yield
        return
    token = _CONFIG_BACKEND.set(check_backend(backend, "backend"))
    try:
        yield
    finally:
        _CONFIG_BACKEND.reset(token)


def numpy_twin(func: Callable) -> Callable:
    """Mark ``func`` as the NumPy twin of the compiled kernel ``refefl_ext.<func.__name__>``.

    Only a marker for the reader (it sets ``func.compiled_twin``); the pairing itself is the row of
    :data:`refefl._twins.TABLE`, and a test checks that the two agree.
    """
    func.compiled_twin = func.__name__
    return func


def ext_kernel(name: str) -> Callable:
    """Return the compiled kernel ``refefl_ext.<name>`` (for the parity tests); ``RuntimeError`` if it is missing."""
    if _ext is None:
        raise RuntimeError("refefl_ext did not load; reinstall refefl with a C compiler (pip install -e .)")
    return getattr(_ext, name)


def compiled_name(numpy_func: Callable) -> str:
    """The name in :mod:`refefl_ext` of the compiled twin of ``numpy_func``, from :data:`refefl._twins.TABLE`."""
    from refefl._twins import COMPILED_NAMES  # imported on first use: the modules it lists import this one

    try:
        return COMPILED_NAMES[numpy_func]
    except KeyError:
        raise ValueError(f"{numpy_func.__qualname__} is not a NumPy twin listed in refefl._twins.TABLE") from None


def select(numpy_func: Callable, backend: str = "auto") -> Callable:
    """Return the implementation of ``numpy_func`` to run for ``backend`` ("auto", "numpy" or "ext").

    "auto" takes the backend of the enclosing :func:`config_context`; "ext", asked for by either, must be able to
    run (:func:`check_backend`).
    """
    check_backend(backend, "backend")
    name = compiled_name(numpy_func)
    if backend == "auto":
        backend = check_backend(_CONFIG_BACKEND.get(), "config_context(backend=...)")
    if backend == "numpy" or (backend == "auto" and (not HAVE_EXT or pure_numpy_forced())):
        return numpy_func
    return getattr(_ext, name)
