"""refefl's own implementations pass every property of their kind, on every backend, in both dtypes.

The kit runs its own Hypothesis search per property; ``EXAMPLES`` is kept small (30 per property, about 0.5 s
per call) so that these ~100 calls stay within a minute of CI; the full count runs in
``python -m benchmarks.conformance``.
"""
from functools import partial

import numpy as np
import pytest

import refefl
from refefl import projections as P
from refefl.losses import FenchelYoungLoss
from refefl.testing import (
    CheckReport, KINDS, check_fy_loss, check_isotonic, check_jvp, check_prediction_map, check_projection,
    check_soft_rank, check_soft_sort, check_vjp, parametrize_checks,
)

EXAMPLES = 30
DTYPES = ["float64", "float32"]


def _maps(backend):
    return {
        "softmax": refefl.softmax,
        "sparsemax": partial(refefl.sparsemax, backend=backend),
        "entmax15": partial(refefl.entmax, alpha=1.5, backend=backend),
        "entmax15 (bisect)": partial(refefl.entmax, alpha=1.5, method="bisect", backend=backend),
        "box": refefl.regularizer("binary_entropy").predict,
        "capped_simplex_entropic": partial(refefl.capped_simplex_entropic, s=2.0, backend=backend),
        "projection_simplex": partial(refefl.projection_simplex, backend=backend),
        "projection_box": refefl.regularizer("box_squared").predict,
        "projection_capped_simplex": partial(refefl.projection_capped_simplex, s=2.0, backend=backend),
        "isotonic": partial(refefl.isotonic_regression, backend=backend),
        "soft_rank": partial(refefl.soft_rank, backend=backend),
        "soft_rank_kl": partial(refefl.soft_rank, regularization="kl", backend=backend),
        "soft_sort": partial(refefl.soft_sort, backend=backend),
        "soft_sort_kl": partial(refefl.soft_sort, regularization="kl", backend=backend),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(_maps("numpy")))
def test_refefl_maps_pass_their_kind(name, dtype, backend):
    report = KINDS[name.split()[0]].run(_maps(backend)[name], dtype=dtype, examples=EXAMPLES)
    report.raise_for_failures()
    assert sum(r.passed for r in report.results) >= len(report.results) - 3  # at most the n/a edge cases skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reg", ["shannon", "sparsemax", "tsallis", "binary_entropy", "box_squared",
                                 "capped_squared", "capped_entropy"])
def test_refefl_losses_pass(reg, dtype):
    params = {"tsallis": {"alpha": 1.5}}.get(reg, {"s": 2.0} if reg.startswith("capped") else {})
    loss = FenchelYoungLoss(refefl.regularizer(reg, **params))
    check_fy_loss(loss.value, loss.grad, reg, dtype=dtype, examples=EXAMPLES, **params).raise_for_failures()


@pytest.mark.parametrize("reg", ["sparsemax", "tsallis"])
def test_refefl_losses_pass_with_label_targets(reg):
    params = {"alpha": 1.5} if reg == "tsallis" else {}
    loss = FenchelYoungLoss(refefl.regularizer(reg, **params))
    check_fy_loss(loss.value, loss.grad, reg, targets="onehot", examples=EXAMPLES, **params).raise_for_failures()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reg", ["shannon", "sparsemax", "tsallis", "binary_entropy", "capped_squared"])
def test_refefl_regularizer_jvps_pass(reg, dtype):
    r = refefl.regularizer(reg, **({"alpha": 1.5} if reg == "tsallis" else {"s": 2.0} if reg[:6] == "capped" else {}))
    reference = reg if reg in ("shannon", "sparsemax", "tsallis") else None
    report = check_jvp(r.predict, r.jvp, reference, dtype=dtype, examples=EXAMPLES,
                       min_size=2 if reg == "capped_squared" else 1)
    report.raise_for_failures()


@pytest.mark.parametrize("name", ["soft_rank", "soft_sort"])
def test_refefl_soft_jvps_pass(name, backend):
    fn, jvp = getattr(P, name), getattr(P, name + "_jvp")
    check_jvp(partial(fn, backend=backend), partial(jvp, backend=backend), name,
              examples=EXAMPLES).raise_for_failures()


@pytest.mark.parametrize("name", ["soft_rank", "soft_sort", "projection_permutahedron"])
def test_refefl_vjps_pass(name, backend):
    vjp = getattr(P, name + "_vjp", None)
    if vjp is None:
        pytest.skip(f"refefl.projections.{name}_vjp is not available yet")
    if name == "projection_permutahedron":
        w = np.linspace(3.0, 0.5, 8)  # the check draws rows of min_size..max(min_size, 8) entries: 8 exactly
        # the VJP has the JVP's signature (z, w, u) and returns the cotangents of z and of w: check z's
        check_vjp(partial(P.projection_permutahedron, w=w), lambda x, u: vjp(x, w, u, backend=backend)[0],
                  lambda x, v: P.projection_permutahedron_jvp(x, w, v, backend="numpy"), min_size=8,
                  examples=EXAMPLES).raise_for_failures()
        return
    check_vjp(getattr(P, name), partial(vjp, backend=backend), name, examples=EXAMPLES).raise_for_failures()


def test_isotonic_decreasing_and_permutahedron_projection_pass():
    check_isotonic(partial(refefl.isotonic_regression, increasing=False), increasing=False,
                   examples=EXAMPLES).raise_for_failures()
    w = np.array([3.0, 1.0, 0.5, 0.0])
    check_projection(partial(refefl.projection_permutahedron, w=w), "permutahedron", w=w,
                     examples=EXAMPLES).raise_for_failures()


def test_checks_run_through_torch_conversion():
    torch = pytest.importorskip("torch")
    report = check_prediction_map(lambda t: torch.softmax(t, dim=-1), "shannon", convert="torch", examples=EXAMPLES,
                                  properties=["agrees_with_refefl", "batched", "keeps_dtype"])
    report.raise_for_failures()


def test_axis_moves_the_reduced_axis():
    report = check_prediction_map(partial(refefl.sparsemax, axis=0), "sparsemax", axis=0, examples=EXAMPLES,
                                  properties=["batched", "agrees_with_refefl"])
    report.raise_for_failures()
    wrong_axis = check_prediction_map(partial(refefl.sparsemax, axis=0), "sparsemax", examples=EXAMPLES,
                                      properties=["batched"])
    assert not wrong_axis.ok


def test_report_names_the_failure_and_raises_a_readable_error():
    def shifted(theta):  # a softmax that forgets one entry's score
        theta = np.array(theta, dtype=float)
        theta[..., 0] = 0.0
        return refefl.softmax(theta)

    report = check_prediction_map(shifted, "shannon", examples=EXAMPLES, properties=["agrees_with_refefl"])
    assert isinstance(report, CheckReport) and not report.ok
    result = report["agrees_with_refefl"]
    assert result.verdict == "failed" and result.counterexample is not None and result.max_rel > 0
    with pytest.raises(AssertionError, match="agrees_with_refefl +failed"):
        report.raise_for_failures()
    assert '"verdict": "failed"' in report.to_json()


def test_unknown_property_and_bad_options_raise():
    with pytest.raises(ValueError, match="unknown properties"):
        check_prediction_map(refefl.softmax, "shannon", properties=["no_such_property"])
    with pytest.raises(ValueError, match="dtype"):
        check_prediction_map(refefl.softmax, "shannon", dtype="int32")
    with pytest.raises(ValueError, match="examples"):
        check_prediction_map(refefl.softmax, "shannon", examples=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        check_projection(3, "simplex")
    with pytest.raises(ValueError, match="domain"):
        check_projection(refefl.sparsemax, "ball")
    with pytest.raises(ValueError, match="regularization"):
        check_soft_rank(refefl.soft_rank, "l1")
    with pytest.raises(ValueError, match="targets"):
        check_fy_loss(refefl.softmax, None, "shannon", targets="labels")


def test_soft_sort_hard_limit_uses_the_strength_keyword():
    check_soft_sort(refefl.soft_sort, strength_keyword="strength", examples=EXAMPLES,
                    properties=["hard_limit"]).raise_for_failures()


@parametrize_checks(refefl.sparsemax, kind="sparsemax", examples=10)  # 10: this only shows the pytest wiring
def test_parametrize_checks_gives_one_test_per_property(check):
    check()
