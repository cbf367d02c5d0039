"""Capped simplex {0 ≤ y ≤ 1, Σy = s} with s = 5: the Euclidean projection (k-subsets, the box-constrained
budget set) and the entropic map σ(x − τ).

Peers, when installed: ``entmax.budget_bisect`` (PyTorch, bisection on the same projection) and
``jaxopt.projection_box_section`` (the projection onto {α ≤ y ≤ β, ⟨w, y⟩ = c}, vmapped over rows and jitted).
Neither has the entropic map.
"""
from __future__ import annotations

import numpy as np

import refefl
from benchmarks import _peers
from benchmarks._harness import Case, Implementation, Suite, available, float32_no_slower
from benchmarks.suites import softmax_floor

S = 5.0
CASES = (Case((10000, 100)), Case((1000, 1000)), Case((1, 10**6)))
QUICK = (Case((1000, 1000)), Case((1, 10**6)))
SCALING = tuple(Case((1, n)) for n in (10**3, 10**4, 10**5, 10**6))


def make_input(case: Case, dtype, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=case.shape).astype(dtype)


def _refefl(func) -> list[Implementation]:
    return [
        Implementation("refefl ext", lambda x: func(x, S, backend="ext")),
        Implementation("refefl numpy", lambda x: func(x, S, backend="numpy")),
    ]


def _entmax_budget() -> Implementation | None:
    """``entmax.budget_bisect`` (entmax ≥ 1.1) on a CPU tensor; None when entmax or torch is missing."""
    if not (_peers.installed("entmax") and _peers.installed("torch")):
        return None
    import entmax

    if not hasattr(entmax, "budget_bisect"):
        return None
    return _peers.torch_implementation("entmax.budget_bisect", "budget_bisect", budget=S)


def _jaxopt_box_section() -> Implementation | None:
    """``jaxopt.projection.projection_box_section`` with box [0, 1], w = 1, c = s, vmapped and jitted."""
    if not _peers.installed("jaxopt"):
        return None
    import jax
    import jax.numpy as jnp
    from jaxopt.projection import projection_box_section

    jax.config.update("jax_enable_x64", True)  # otherwise jnp.asarray turns the float64 cases into float32

    def project_row(row):
        ones = jnp.ones_like(row)
        return projection_box_section(row, (jnp.zeros_like(row), ones, ones, S))

    project = jax.jit(jax.vmap(project_row))
    return Implementation(
        "jaxopt.projection_box_section",
        lambda x: project(x).block_until_ready(),
        prepare=jnp.asarray,
        to_numpy=np.asarray,
        traced_memory=False,
        stopping_tolerance=1e-5,  # the default tol of the jaxopt.Bisection it runs (at most 30 halvings)
    )


PROJECTION = Suite(
    name="capped",
    title=f"Projection onto the capped simplex (s = {S:g})",
    cases=CASES,
    quick_cases=QUICK,
    make_input=make_input,
    reference=lambda x: refefl.projection_capped_simplex(x, S, backend="numpy"),
    implementations=lambda: available(*_refefl(refefl.projection_capped_simplex), _entmax_budget(),
                                      _jaxopt_box_section()),
    floor=softmax_floor(),
    targets=(float32_no_slower(),),
    scaling=SCALING,
    memory_budget=2.0,
)

ENTROPIC = Suite(
    name="capped_entropic",
    title=f"Entropic map onto the capped simplex, σ(x − τ) with Σ = s (s = {S:g})",
    cases=CASES,
    quick_cases=QUICK,
    make_input=make_input,
    reference=lambda x: refefl.capped_simplex_entropic(x, S, backend="numpy"),
    implementations=lambda: _refefl(refefl.capped_simplex_entropic),
    floor=softmax_floor(),
    targets=(float32_no_slower(),),
    scaling=SCALING,
)
