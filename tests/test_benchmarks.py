"""The benchmark suites time what they claim: every implementation of every suite agrees with refefl's NumPy
reference on a small input (the check ``python -m benchmarks`` runs before it times anything), and the target
evaluation reads ratios off the measured rows. Nothing here is timed."""
import numpy as np
import pytest

import refefl
from refefl import _backend
from benchmarks import run
from benchmarks._harness import Case, check_agreement
from benchmarks.suites import all_suites


# every suite times "refefl ext" (backend="ext" raises without the extension or under REFEFL_PURE_NUMPY=1);
# .ci/run requires it built
@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
@pytest.mark.parametrize("suite", all_suites(), ids=lambda s: s.name)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_implementation_agrees_with_the_reference(suite, dtype):
    if np.dtype(dtype).name not in suite.dtypes:
        pytest.skip(f"{suite.name} has no {np.dtype(dtype).name} cases")
    case = suite.agreement_case or (Case((4, 300)) if len(suite.cases[0].shape) == 2 else Case((3000,)))
    x = suite.make_input(case, dtype, np.random.default_rng(0))
    diffs = check_agreement(suite, suite.implementations(), x, dtype)  # SystemExit on disagreement
    # the min-min loss has no compiled twin: its only refefl contender is the NumPy function
    assert ({"refefl numpy"} if suite.name == "partition_min_min" else {"refefl ext", "refefl numpy"}) <= set(diffs)


def test_targets_are_ratios_of_the_measured_medians():
    suite = next(s for s in all_suites() if s.name == "sparsemax")
    rows = [{"case": "1×10", "dtype": dtype, "implementation": impl, "median_s": t, "peak_bytes": 30,
             "input_bytes": 10}
            for dtype, impl, t in [("float64", "numpy softmax (floor)", 4.0), ("float64", "refefl ext", 1.0),
                                   ("float32", "refefl ext", 2.0), ("float64", "entmax.sparsemax", 10.0)]]
    results = {(r["target"], r["dtype"]): r for r in run.evaluate_targets(suite, rows)}
    floor = results[("refefl ext / numpy softmax (floor) ≤ 0.5", "float64")]
    assert floor["ratio"] == 0.25 and floor["met"]
    assert not results[("refefl ext / entmax.sparsemax ≤ 0.05", "float64")]["met"]
    assert not results[("refefl ext [float32] / refefl ext [float64] ≤ 1", "both")]["met"]
    memory = [r for r in results.values() if r["target"].startswith("peak memory")]
    assert memory and all(r["ratio"] == 3 and not r["met"] for r in memory)


@pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")
def test_the_multilabel_epoch_benchmark_times_each_model_and_inner_solver():
    """Every row of the epoch benchmark (unary without an inner solver, quadratic with the NumPy and compiled
    coordinate ascent) trains and is timed, on a small stand-in for yeast."""
    from benchmarks import bench_multilabel_epoch as bench
    from refefl.datasets import make_synthetic_multilabel

    data = make_synthetic_multilabel(80, 5, 4, rng=np.random.default_rng(0))
    settings, _ = bench.configurations()
    rows = bench.measure(settings, data, repeats=1, epochs=2, skip=0)
    assert sorted((r["energy"], r["inner_solver"]) for r in rows) == sorted(
        [("unary", "—"), ("quadratic", "ext"), ("quadratic", "numpy")] * len(bench.MODELS))
    assert all(r["epochs_timed"] == 2 and r["median_ms"] > 0 for r in rows)
