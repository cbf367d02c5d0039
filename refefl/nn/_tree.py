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


def tree_ravel(tree: Any, shapes: list | None = None) -> np.ndarray:
    """The leaves of ``tree``, raveled in :func:`tree_leaves` order and concatenated into one new vector.
    ``ValueError`` unless the leaves have the shapes ``shapes`` (when given).

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import tree_ravel
    >>> tree_ravel({"W": np.ones((2, 2)), "b": np.zeros(1)})
    array([1., 1., 1., 1., 0.])
    """
    leaves = tree_leaves(tree)
    if shapes is not None and [np.shape(leaf) for leaf in leaves] != shapes:
        raise ValueError(f"pytree structure mismatch: leaves of shapes {[np.shape(leaf) for leaf in leaves]} vs "
                         f"{shapes}")
    return np.concatenate([np.ravel(leaf) for leaf in leaves])


def tree_unravel(tree: Any, flat: np.ndarray) -> Any:
    """The inverse of :func:`tree_ravel`: a tree of the structure of ``tree`` whose leaves are views of the vector
    ``flat``, each leaf of ``tree`` (in :func:`tree_leaves` order) taking the next entries in its shape.
    ``ValueError`` unless ``flat`` has as many entries as the leaves together.

    Examples
    --------
    >>> import numpy as np
    >>> from refefl.nn import tree_unravel
    >>> tree_unravel({"W": np.zeros((2, 2)), "b": np.zeros(1)}, np.arange(5.0))
    {'W': array([[0., 1.],
           [2., 3.]]), 'b': array([4.])}
    """
    if np.ndim(flat) != 1:
        raise ValueError(f"flat must be a vector, got shape {np.shape(flat)}")
    start = 0

    def view(leaf):
        nonlocal start
        stop = start + np.size(leaf)
        if stop > len(flat):
            raise ValueError(f"flat has {len(flat)} entries, fewer than the leaves of the tree")
        piece, start = flat[start:stop].reshape(np.shape(leaf)), stop
        return piece

    unraveled = tree_map(view, tree)
    if start != len(flat):
        raise ValueError(f"flat has {len(flat)} entries, the leaves of the tree {start}")
    return unraveled


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
