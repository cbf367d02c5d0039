"""Optional peers, imported only when installed (``pip install -e ".[bench]"``); never imported by refefl."""
from __future__ import annotations

import importlib.util

import numpy as np

from benchmarks._harness import Implementation


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def torch_implementation(name: str, func_path: str, **kwargs) -> Implementation | None:
    """Wrap ``entmax.<func>`` (or any torch function) on a CPU tensor shared with the NumPy input."""
    if not (installed("torch") and installed("entmax")):
        return None
    import entmax
    import torch

    func = getattr(entmax, func_path)

    def run(tensor):
        with torch.no_grad():
            return func(tensor, dim=-1, **kwargs)

    return Implementation(name, run, prepare=torch.from_numpy, to_numpy=lambda t: t.numpy(), traced_memory=False)


def scipy_isotonic() -> Implementation:
    from scipy.optimize import isotonic_regression

    return Implementation("scipy isotonic_regression", lambda y: isotonic_regression(y).x)


def sklearn_isotonic() -> Implementation | None:
    if not installed("sklearn"):
        return None
    from sklearn.isotonic import isotonic_regression

    return Implementation("sklearn isotonic_regression", isotonic_regression)


def versions() -> dict[str, str]:
    """Versions of numpy, scipy and every installed peer, for the stamp of each result file."""
    import scipy

    out = {"numpy": np.__version__, "scipy": scipy.__version__}
    for module in ("torch", "entmax", "sklearn", "jaxopt", "jax", "thewalrus", "Cython"):
        if installed(module):
            version = getattr(importlib.import_module(module), "__version__", None)
            out[module] = version or _distribution_version(module)
    return out


def _distribution_version(module: str) -> str:
    """The installed distribution's version, for a module without ``__version__`` (jaxopt 0.8 has none)."""
    from importlib import metadata

    try:
        return metadata.version({"sklearn": "scikit-learn"}.get(module, module))
    except metadata.PackageNotFoundError:
        return "unknown"
