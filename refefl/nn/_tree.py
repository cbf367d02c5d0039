"""Parameter pytrees: nested lists, tuples and dicts whose leaves are arrays (or Python numbers)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


def tree_map(func: Callable, tree: Any, *others: Any) -> Any:
    """Apply ``func`` leaf by leaf to ``tree`` and to ``others`` of the same structure; returns a new tree.

    Containers keep their type (dicts keep their keys, tuples stay tuples); a structure mismatch raises
    ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import tree_map
    >>> tree_map(lambda a, b: a + b, (np.ones(2), [np.zeros(1)]), (np.ones(2), [np.ones(1)]))
    (array([2., 2.]), [array([1.])])
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
    """The leaves of ``tree`` in a fixed order (dicts in insertion order).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import tree_leaves
    >>> len(tree_leaves((np.ones(2), [np.zeros(1), np.zeros(3)])))
    3
    """
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in tree_leaves(value)]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def tree_vdot(a: Any, b: Any) -> float:
    r"""The inner product :math:`\sum_{\text{leaves}} \langle a_\ell, b_\ell\rangle` of two trees of one structure.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import tree_vdot
    >>> tree_vdot((np.ones(2), [np.full(1, 3.0)]), (np.ones(2), [np.ones(1)]))
    5.0
    """
    products = tree_leaves(tree_map(lambda u, v: float(np.vdot(u, v)), a, b))
    return float(sum(products))


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        return f"dict with keys {sorted(obj)}"
    if isinstance(obj, (list, tuple)):
        return f"{type(obj).__name__} of length {len(obj)}"
    return type(obj).__name__
