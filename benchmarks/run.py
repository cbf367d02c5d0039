"""Entry point: ``python -m benchmarks [--quick] [--suites ...] [--dtypes ...] [--repeats N]``.

For every kernel suite and case it first checks that every implementation agrees with refefl's NumPy reference
(and stops with an error if one does not), then times all of them side by side in the same run, with the
suite's floor (NumPy softmax of the same array, or argsort), and writes ``<suite>.csv``, ``.md`` and ``.png``
plus ``summary.md`` (targets met or missed) to ``--out-dir`` (default ``benchmarks/results``); ``python -m
tools.readme`` copies the summary into the README.

Three model-level benchmarks run after the kernel suites (each also runs alone as ``python -m <module>``):
``gda_iteration`` (:mod:`benchmarks.bench_gda`, one particle-GDA iteration against the matrix products it
cannot avoid) and ``multilabel_epoch`` (:mod:`benchmarks.bench_multilabel_epoch`, a training epoch of the
quadratic energy against the unary model) and ``partition_step`` (:mod:`benchmarks.bench_partition_step`, a min-min
training step against an exact-MLE step of the unary partition model). ``--suites`` selects among all of them.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

import numpy as np

from benchmarks import _peers, _report
from benchmarks._harness import Case, Suite, check_agreement, peak_memory, time_call
from benchmarks.suites import all_suites, suite_groups

#: model-level benchmarks: name -> module with ``main(argv)`` (accepting ``--quick`` and ``--out-dir``)
MODEL_BENCHMARKS = {"gda_iteration": "benchmarks.bench_gda", "multilabel_epoch": "benchmarks.bench_multilabel_epoch",
                    "partition_step": "benchmarks.bench_partition_step"}
#: the model benchmarks that read the yeast data set (skipped by default where no data folder is configured)
NEEDS_DATA = ("multilabel_epoch", "partition_step")


def _measure(suite: Suite, case: Case, dtype, repeats: int, rng, *, check: bool = True) -> list[dict]:
    x = suite.make_input(case, dtype, rng)
    impls = suite.implementations()
    diffs = check_agreement(suite, impls, x, dtype) if check else {impl.name: float("nan") for impl in impls}
    rows = []
    for impl in [suite.floor, *impls]:
        prepared = impl.prepare(x)
        timing = time_call(lambda: impl.run(prepared), repeats)
        memory = peak_memory(lambda: impl.run(prepared)) if impl.traced_memory else -1
        rows.append({
            "suite": suite.name, "case": case.label, "size": case.size, "dtype": np.dtype(dtype).name,
            "implementation": impl.name, "median_s": timing.median, "min_s": timing.low, "max_s": timing.high,
            "repeats": timing.repeats, "peak_bytes": memory, "input_bytes": x.nbytes,
            "max_abs_diff": diffs.get(impl.name, 0.0),
        })
    floor = rows[0]["median_s"]
    numpy_time = next((r["median_s"] for r in rows if r["implementation"] == "refefl numpy"), float("nan"))
    for r in rows:
        r["ratio_to_floor"] = r["median_s"] / floor
        r["ratio_to_numpy"] = r["median_s"] / numpy_time
    return rows


def evaluate_targets(suite: Suite, rows: list[dict]) -> list[dict]:
    times = {(r["case"], r["dtype"], r["implementation"]): r["median_s"] for r in rows}
    out = []
    for target in suite.targets:
        labels = None if target.cases is None else {c.label for c in target.cases}
        for case in dict.fromkeys(r["case"] for r in rows):
            num = times.get((case, target.numerator_dtype, target.numerator))
            den = times.get((case, target.denominator_dtype, target.denominator))
            if (labels is None or case in labels) and num is not None and den is not None:
                dtype = target.numerator_dtype if target.numerator_dtype == target.denominator_dtype else "both"
                out.append({"suite": suite.name, "target": target.describe(), "case": case, "dtype": dtype,
                            "ratio": num / den, "met": num / den <= target.bound})
    if suite.memory_budget is not None:
        for r in rows:
            if r["implementation"] == "refefl ext":
                ratio = r["peak_bytes"] / r["input_bytes"]
                out.append({"suite": suite.name, "target": f"peak memory of refefl ext / input ≤ {suite.memory_budget:g}",
                            "case": r["case"], "dtype": r["dtype"], "ratio": ratio, "met": ratio <= suite.memory_budget})
    return out


def run_suite(suite: Suite, args) -> tuple[list[dict], list[dict]]:
    """Measure every case of ``suite``, write its files, and return (measurement rows, target results)."""
    rng = np.random.default_rng(args.seed)
    cases = suite.quick_cases if args.quick else suite.cases
    rows = []
    for case in cases:
        for dtype in (d for d in args.dtypes if d in suite.dtypes):
            measured = _measure(suite, case, np.dtype(dtype), args.repeats, rng)
            rows += measured
            timings = ", ".join(f"{r['implementation']} {r['median_s'] * 1e3:.3g} ms" for r in measured)
            print(f"  {case.label} {dtype}: {timings}", flush=True)
    targets = evaluate_targets(suite, rows)
    stamp = _report.stamp(_peers.versions())
    _report.write_csv(args.out_dir / f"{suite.name}.csv", rows)
    _report.write_markdown(args.out_dir / f"{suite.name}.md", suite.title, stamp, rows, targets)
    if suite.scaling and not args.quick and not args.no_plots:
        scaling_rows = []
        for case in suite.scaling:
            scaling_rows += _measure(suite, case, np.dtype(np.float64), args.repeats, rng, check=False)
        _report.plot_scaling(args.out_dir / f"{suite.name}.png", f"{suite.title} (float64, one row)", scaling_rows)
    return rows, targets


def _run_kernel_suites(kernel_suites: list[Suite], args) -> None:
    """Run the kernel suites and write ``summary.md``: the kind of run, the stamp, medians and targets."""
    all_rows, all_targets = [], []
    for suite in kernel_suites:
        print(f"== {suite.title}")
        rows, targets = run_suite(suite, args)
        all_rows += rows
        all_targets += targets
    targets = _report.targets_table(all_targets) if all_targets else "(no targets)"
    kind = "quick run (two target shapes, few repeats)" if args.quick else "full run"
    summary = (f"{_report.stamp(_peers.versions())}\n\nMedians, float64:\n\n{_report.summary_table(all_rows)}\n\n"
               f"Targets, all dtypes:\n\n{targets}\n")
    (args.out_dir / "summary.md").write_text(f"# Benchmark summary\n\nFrom a {kind}: {summary}")
    print("\n" + summary)


def main(argv: list[str] | None = None) -> int:
    suites = {s.name: s for s in all_suites()}
    groups = suite_groups()
    names = sorted(suites) + list(groups) + list(MODEL_BENCHMARKS)
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small cases, few repeats (a smoke run)")
    parser.add_argument("--suites", nargs="+", choices=names, default=None,
                        help="default: all, except the model benchmarks that read the yeast data "
                             f"({', '.join(NEEDS_DATA)}) when REFEFL_DATA is not set")
    parser.add_argument("--dtypes", nargs="+", choices=["float64", "float32"], default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default 15, quick 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=_report.RESULTS,
                        help="where the result files go (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.suites is None:
        args.suites = sorted(suites) + list(MODEL_BENCHMARKS)
        if not os.environ.get("REFEFL_DATA"):  # named explicitly, they run and say which file is missing
            args.suites = [name for name in args.suites if name not in NEEDS_DATA]
            print(f"skipped {', '.join(NEEDS_DATA)}: they time training on the yeast data (set REFEFL_DATA)")
    args.suites = [name for group in args.suites for name in groups.get(group, (group,))]
    args.repeats = args.repeats or (5 if args.quick else 15)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(_report.stamp(_peers.versions()))
    kernel_suites = [suites[name] for name in args.suites if name in suites]
    if kernel_suites:
        _run_kernel_suites(kernel_suites, args)
    for name in (name for name in args.suites if name in MODEL_BENCHMARKS):
        print(f"== {name} ({MODEL_BENCHMARKS[name]})", flush=True)
        options = ["--out-dir", str(args.out_dir)] + (["--quick"] if args.quick else [])
        importlib.import_module(MODEL_BENCHMARKS[name]).main(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
