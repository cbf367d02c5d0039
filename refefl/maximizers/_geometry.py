r"""What the first-order maximizers need to know about Ω beyond its public API: its gradient ∇Ω (the mirror map)
and the Euclidean projection onto its domain C, for the registered regularizers whose formulas they know.

The projection needs no new code: the prediction of the half squared norm on C is the projection,
:math:`\hat y_{\frac12\|\cdot\|^2 + I_C}(z) = \Pi_C(z)`, so Π_C is the ``predict`` of the squared regularizer that
shares Ω's domain. ∇Ω is known in closed form below; a regularizer not listed here is served by
:class:`~refefl.maximizers.FrankWolfe`, which needs only ŷ_Ω and Ω.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import logit

from refefl.regularizers import regularizer as make_regularizer
from refefl.regularizers._base import Regularizer


def _identity(omega: Regularizer, y: np.ndarray) -> np.ndarray:
    return y


def _tsallis(omega: Regularizer, y: np.ndarray) -> np.ndarray:
    # ∇Ω_α(y) = (α y^{α−1} − 1)/(α(α−1)); the constant is dropped: the simplex map ignores shifts along 1
    return np.power(np.maximum(y, 0), omega.alpha - 1) / (omega.alpha - 1)


def _log(omega: Regularizer, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(y)


def _logit(omega: Regularizer, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return logit(y)


# name -> (∇Ω(y) up to a shift that Π_C / ŷ_Ω ignore, name of the squared regularizer on the same domain)
_KNOWN: dict[str, tuple[Callable, str]] = {
    "box_squared": (_identity, "box_squared"),
    "binary_entropy": (_logit, "box_squared"),
    "sparsemax": (_identity, "sparsemax"),
    "tsallis": (_tsallis, "sparsemax"),
    "shannon": (_log, "sparsemax"),
    "capped_squared": (_identity, "capped_squared"),
    "capped_entropy": (_logit, "capped_squared"),
    "perm_squared": (_identity, "perm_squared"),
    "perm_entropy": (_log, "perm_squared"),
}
#: Legendre-type Ω: ∇Ω is infinite on the relative boundary of C, so ŷ_Ω maps into the relative interior
ENTROPIC = frozenset({"binary_entropy", "shannon", "capped_entropy", "perm_entropy"})
#: Ω differentiable on all of C (projected gradient ascent applies)
SMOOTH = frozenset(set(_KNOWN) - ENTROPIC)
# parameters of a regularizer that define its domain (capped simplex size s, permutahedron generator w)
_DOMAIN_PARAMS = ("s", "w")
# domains inside a hyperplane {Σ y = const}: gradients matter only up to a multiple of 1
_HYPERPLANE = frozenset(
    {"shannon", "sparsemax", "tsallis", "capped_squared", "capped_entropy", "perm_squared", "perm_entropy"}
)


def gradient(omega: Regularizer, y: np.ndarray) -> np.ndarray:
    r""":math:`\nabla\Omega(y)` (up to a shift along the normal of the affine hull of C), of the shape of y.

    For the entropic Ω it is ±inf on the relative boundary of C; ``ValueError`` for a regularizer not listed.
    """
    if omega.name not in _KNOWN:
        raise ValueError(f"the gradient of the {omega.name!r} regularizer is not known; use FrankWolfe")
    return _KNOWN[omega.name][0](omega, y)


def euclidean_projection(omega: Regularizer) -> Callable[[np.ndarray], np.ndarray]:
    r"""The map :math:`z \mapsto \Pi_C(z)` onto the domain C of ``omega``."""
    if omega.name not in _KNOWN:
        raise ValueError(f"the domain of the {omega.name!r} regularizer is not known; use FrankWolfe")
    params = {key: getattr(omega, key) for key in _DOMAIN_PARAMS if hasattr(omega, key)}
    return make_regularizer(_KNOWN[omega.name][1], **params)._predict


def tangent(omega: Regularizer, v: np.ndarray) -> np.ndarray:
    r"""The component of ``v`` parallel to the affine hull of C: v − mean(v)·1 on the (capped) simplex and the
    permutahedron (all inside a hyperplane {Σ y = const}), v on the box.

    Dropping the multiple of 1 (which neither Π_C nor ŷ_Ω sees) keeps inner products ⟨v, y⁺ − y⟩ exact: otherwise
    a large shift times the rounding error of Σ(y⁺ − y) = 0 swamps them near a maximizer.
    """
    return v - v.mean(axis=-1, keepdims=True) if omega.name in _HYPERPLANE else v
