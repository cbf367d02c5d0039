"""Regularizers Ω (value, conjugate, regularized prediction ŷ = ∇Ω*, its JVP) and the registry by name."""
from __future__ import annotations

from refefl.regularizers._base import Regularizer

# name -> class; each module below registers its regularizers here.
REGULARIZERS: dict[str, type[Regularizer]] = {}


def regularizer(name: str, **params) -> Regularizer:
    """Build a regularizer by name, e.g. ``regularizer("tsallis", alpha=1.5)`` or ``regularizer("capped_squared", s=2)``.

    Names: ``"shannon"``, ``"sparsemax"``, ``"tsallis"`` (alpha), ``"binary_entropy"``, ``"box_squared"``,
    ``"capped_squared"``, ``"capped_entropy"`` (s), ``"perm_squared"``, ``"perm_entropy"`` (w).
    """
    try:
        cls = REGULARIZERS[name]
    except KeyError:
        raise ValueError(f"unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)}") from None
    return cls(**params)


__all__ = ["Regularizer", "REGULARIZERS", "regularizer"]
