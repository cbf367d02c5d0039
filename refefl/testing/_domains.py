"""The domains C the checks know: membership, a sampler of feasible points, refefl's projection onto C.

See docs/testing.md for which invariances hold on which domain.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from refefl.projections import projection_capped_simplex, projection_permutahedron, projection_simplex


@dataclass(frozen=True)
class Domain:
    """A closed convex set C ⊂ R^n with the facts the checks use.

    ``shift_invariant``: C lies in a hyperplane {Σy = const}, so projections and regularized predictions onto
    it do not change when every score moves by the same constant. ``fixed_size``: the only admissible n.
    """

    name: str
    contains: Callable  # (y, tol) -> bool per row
    points: Callable  # n, dtype -> Hypothesis strategy of points of C
    project: Callable  # x -> refefl's Euclidean projection onto C (last axis)
    shift_invariant: bool
    min_size: int = 1
    fixed_size: int | None = None


def _in_simplex(y, tol):
    return (y >= -tol).all(axis=-1) & (np.abs(y.sum(axis=-1) - 1) <= tol * y.shape[-1])


def _in_box(y, tol):
    return ((y >= -tol) & (y <= 1 + tol)).all(axis=-1)


def _in_capped(s):
    return lambda y, tol: _in_box(y, tol) & (np.abs(y.sum(axis=-1) - s) <= tol * y.shape[-1])


def _in_permutahedron(w):
    w_sorted = np.sort(np.asarray(w, dtype=np.float64))[::-1]

    def contains(y, tol):
        partial = np.cumsum(-np.sort(-y, axis=-1), axis=-1)
        bound = np.cumsum(w_sorted)
        slack = tol * (1 + np.abs(bound))
        return (partial <= bound + slack).all(axis=-1) & (np.abs(partial[..., -1] - bound[-1]) <= slack[-1])

    return contains


def domain(name: str, **params) -> Domain:
    """The domain called ``name``: ``"simplex"``, ``"box"``, ``"capped_simplex"`` (s) or ``"permutahedron"`` (w)."""
    from refefl.testing import strategies as S  # Hypothesis only when a check runs

    if name == "simplex":
        return Domain(name, _in_simplex, lambda n, dtype: S.simplex_points(n, dtype=dtype),
                      lambda x: projection_simplex(x, backend="numpy"), True)
    if name == "box":
        return Domain(name, _in_box, lambda n, dtype: S.box_points(n, dtype=dtype),
                      lambda x: np.clip(x, 0, 1), False)
    if name == "capped_simplex":
        s = float(params.get("s", 2.0))
        return Domain(name, _in_capped(s), lambda n, dtype: S.capped_simplex_points(n, s, dtype=dtype),
                      lambda x: projection_capped_simplex(x, s, backend="numpy"), True, min_size=int(np.ceil(s)))
    if name == "permutahedron":
        w = np.asarray(params["w"], dtype=np.float64)
        return Domain(name, _in_permutahedron(w), lambda n, dtype: S.permutahedron_points(w, dtype=dtype),
                      lambda x: projection_permutahedron(x, w, backend="numpy"), True, fixed_size=len(w))
    raise ValueError(f"domain must be 'simplex', 'box', 'capped_simplex' or 'permutahedron', got {name!r}")


_REGULARIZER_DOMAINS = {"shannon": "simplex", "sparsemax": "simplex", "tsallis": "simplex", "binary_entropy": "box",
                        "box_squared": "box", "capped_squared": "capped_simplex", "capped_entropy": "capped_simplex",
                        "perm_squared": "permutahedron", "perm_entropy": "permutahedron"}


def domain_of(reg) -> Domain:
    """The domain of a refefl :class:`~refefl.Regularizer`."""
    return domain(_REGULARIZER_DOMAINS[reg.name], **{k: v for k, v in vars(reg).items() if k in ("s", "w")})
