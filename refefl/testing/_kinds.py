"""The named kinds of implementation the command line and :func:`parametrize_checks` know, each a check call."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from refefl.testing._check_generalized import check_generalized_fy_loss
from refefl.testing._check_losses import check_fy_loss
from refefl.testing._check_maps import check_prediction_map, check_projection
from refefl.testing._check_partition import check_min_min_loss
from refefl.testing._check_sorting import check_isotonic, check_soft_rank, check_soft_sort


@dataclass(frozen=True)
class Kind:
    """A kind: what it checks, the check function and the arguments that pin it (regularizer, domain, ...)."""

    name: str
    description: str
    check: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def run(self, fn: Callable, **options):
        return self.check(fn, *self.args, **{**self.kwargs, **options})


def _loss(name, reg, **params):
    def check(fn, *, grad_fn=None, **options):
        return check_fy_loss(fn, grad_fn, reg, **params, **options)

    return Kind(name, f"Fenchel-Young loss of {reg}{params or ''}: value_fn(theta, y)", check)


def _min_min(name, divergence, alpha=None):
    def check(fn, *, grad_fn=None, axis=-1, batched=True, **options):
        if axis != -1 or not batched:
            raise ValueError("the min-min kinds take batches: g_target (n,), g_samples (n, m), tau (n,), the samples "
                             "on the last axis (axis -1, batched)")
        return check_min_min_loss(fn, grad_fn, divergence=divergence, alpha=alpha, **options)

    return Kind(name, f"min-min loss ({divergence}{'' if alpha is None else f', alpha {alpha}'}): "
                      "value_fn(g_target, g_samples, tau)", check)


def _generalized(name, reg):
    def check(fn, *, grad_fn=None, axis=-1, **options):
        if axis != -1:
            raise ValueError("the generalized FY kinds take theta (n, k), A (k, k), y (n, k), the labels on the last "
                             "axis (axis -1)")
        return check_generalized_fy_loss(fn, grad_fn, reg, **options)

    return Kind(name, f"generalized FY loss of the quadratic energy with {reg} on the box: value_fn(theta, A, y)",
                check)


KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("softmax", "softmax, the prediction of the Shannon negentropy", check_prediction_map, ("shannon",)),
    Kind("sparsemax", "sparsemax, the Euclidean projection onto the simplex", check_prediction_map, ("sparsemax",)),
    Kind("entmax15", "1.5-entmax, the prediction of the Tsallis 1.5-negentropy", check_prediction_map, ("tsallis",),
         {"alpha": 1.5}),
    Kind("box", "the prediction of the binary negentropy on [0, 1]^n (a sigmoid)", check_prediction_map,
         ("binary_entropy",)),
    Kind("capped_simplex_entropic", "the entropic map onto the capped simplex (s = 2)", check_prediction_map,
         ("capped_entropy",), {"s": 2.0}),
    Kind("projection_simplex", "Euclidean projection onto the probability simplex", check_projection, ("simplex",)),
    Kind("projection_box", "Euclidean projection onto [0, 1]^n", check_projection, ("box",)),
    Kind("projection_capped_simplex", "Euclidean projection onto the capped simplex (s = 2)", check_projection,
         ("capped_simplex",), {"s": 2.0}),
    _loss("softmax_loss", "shannon"),
    _loss("sparsemax_loss", "sparsemax"),
    _loss("entmax15_loss", "tsallis", alpha=1.5),
    Kind("isotonic", "increasing isotonic regression (unweighted)", check_isotonic),
    Kind("soft_rank", "soft ranks, l2, strength 1", check_soft_rank, ("l2",)),
    Kind("soft_rank_kl", "soft ranks, kl, strength 1", check_soft_rank, ("kl",)),
    Kind("soft_sort", "soft sort, l2, strength 1", check_soft_sort, ("l2",)),
    Kind("soft_sort_kl", "soft sort, kl, strength 1", check_soft_sort, ("kl",)),
    _generalized("generalized_fy_loss", "binary_entropy"),
    _generalized("generalized_fy_box_squared_loss", "box_squared"),
    _min_min("min_min_loss", "kl"),
    _min_min("min_min_sparsemax_loss", "sparsemax"),
    _min_min("min_min_tsallis15_loss", "tsallis", 1.5),
]}


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r}; kinds are {sorted(KINDS)}")
    return KINDS[name]


def property_names(kind: str, **options) -> list[tuple[str, str]]:
    """``(name, description)`` of every property of ``kind`` (nothing is run)."""
    report = get_kind(kind).run(lambda x: x, properties=[], **options)
    return [(r.name, r.doc) for r in report.results]
