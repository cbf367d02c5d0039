"""Parameter pytrees: nested lists, tuples and dicts whose leaves are arrays (or Python numbers)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


def tree_map(func: Callable, tree: Any, *others: Any) -> Any:
    """Apply ``func`` leaf by leaf to ``tree`` and to ``others`` of the same structure; returns a new tree.

    Containers keep their type (dicts keep their keys, tuples stay tuples); a structure mismatch raises
    ``ValueError``.
    """
    if isinstance(tree, dict):
        for other in others:
            if not isinstance(other, dict) or other.keys() != tree.keys():
                raise ValueError(f"pytree structure mismatch: dict with keys {sorted(tree)} vs {_describe(other)}")
        return {key: tree_map(func, tree[key], *(other[key] for other in others)) for key in tree}
    if isinstance(tree, (list, tuple)):
        for other in others:
            if not isinstance(other, (list, tuple)) or len(other) != len(tree):
                raise ValueError(f"pytree structure mismatch: sequence of length {len(tree)} vs {_describe(other)}")
        return type(tree)(tree_map(func, *items) for items in zip(tree, *others))
    return func(tree, *others)


def tree_leaves(tree: Any) -> list:
    """The leaves of ``tree`` in a fixed order (dicts in insertion order)."""
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in tree_leaves(value)]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def tree_vdot(a: Any, b: Any) -> float:
    r"""The inner product :math:`\sum_{\text{leaves}} \langle a_\ell, b_\ell\rangle` of two trees of one structure."""
    products = tree_leaves(tree_map(lambda u, v: float(np.vdot(u, v)), a, b))
    return float(sum(products))


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        return f"dict with keys {sorted(obj)}"
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__} of length {len(obj)}"
    return type(obj).__name__
