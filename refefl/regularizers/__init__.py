"""Regularizers Ω (value, conjugate, regularized prediction ŷ = ∇Ω*, its JVP) and the registry by name."""
from __future__ import annotations

from refefl.regularizers._base import Regularizer
from refefl.regularizers._simplex import Shannon, SquaredSimplex, Tsallis
from refefl.regularizers._box import BinaryEntropy, BoxSquared
from refefl.regularizers._capped_simplex import CappedEntropy, CappedSquared
from refefl.regularizers._permutahedron import PermEntropy, PermSquared

# name -> class. To add regularizers: import their classes above and add one `_register(...)` line below.
REGULARIZERS: dict[str, type[Regularizer]] = {}


def _register(*classes: type[Regularizer]) -> None:
    """Add ``classes`` to REGULARIZERS under their ``name``; an empty or duplicate name is a programming error."""
    for cls in classes:
        if not cls.name or cls.name in REGULARIZERS:
            raise RuntimeError(f"{cls.__name__}.name = {cls.name!r} is empty or already registered")
        REGULARIZERS[cls.name] = cls


_register(Shannon, SquaredSimplex, Tsallis)
_register(BinaryEntropy, BoxSquared)
_register(CappedSquared, CappedEntropy)
_register(PermSquared, PermEntropy)


def regularizer(name: str, **params) -> Regularizer:
    """Build a regularizer by name, e.g. ``regularizer("tsallis", alpha=1.5)`` or ``regularizer("capped_squared", s=2)``.

    Names: ``"shannon"``, ``"sparsemax"``, ``"tsallis"`` (alpha), ``"binary_entropy"``, ``"box_squared"``,
    ``"capped_squared"``, ``"capped_entropy"`` (s), ``"perm_squared"``, ``"perm_entropy"`` (w).

    Examples
    --------
    >>> from refefl.regularizers import regularizer
    >>> regularizer("tsallis", alpha=1.5).name
    'tsallis'
    """
    try:
        cls = REGULARIZERS[name]
    except KeyError:
        raise ValueError(f"unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)}") from None
    return cls(**params)


__all__ = ["Regularizer", "REGULARIZERS", "regularizer", "Shannon", "SquaredSimplex", "Tsallis",
           "BinaryEntropy", "BoxSquared", "CappedSquared", "CappedEntropy",
           "PermSquared", "PermEntropy"]
