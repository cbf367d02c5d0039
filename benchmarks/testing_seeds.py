"""Are refefl.testing's checks deterministic in outcome? Every kind on refefl's own implementation, and every mutant
of the mutant tests, across seeds 0..19, with the time of each call; writes a generated table.

    nice -n 10 python -m benchmarks.testing_seeds [--seeds 20] [--part refefl|mutants] [--only SUBSTRING]

Targets (issue 11): every refefl implementation passes every check at every seed (a failure at some seed is a
flaky check or a bug), every mutant is caught by its named property at every seed, and a ``check_*`` call with the
default example count (100) takes ≤ 10 s on the 2-core machine for a NumPy implementation. Refefl rows run at the
default example count, in both dtypes where the kind takes both; mutants at the count their tests use, with
Hypothesis' shrinking off (it changes the counterexample reported, not whether one is found). Results go to
``benchmarks/results/testing_seeds.csv`` (one row per case and dtype; a ``--part`` run replaces its own rows) and
the table ``testing_seeds.md`` generated from it.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

import refefl
from refefl import projections as P
from refefl.losses import FenchelYoungLoss
from refefl.testing import KINDS, CheckReport, check_jvp, check_vjp
from refefl.testing._engine import DEFAULT_EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: the modules whose ``MUTANTS`` tables are run
MUTANT_MODULES = ("test_testing_mutants", "test_testing_partition", "test_testing_generalized")
FIELDS = ["part", "case", "dtype", "examples", "seeds", "passed", "failing_seeds", "failing_properties",
          "median_s", "max_s", "median_cpu_s", "max_cpu_s"]
TARGET_SECONDS = 10.0


@dataclass(frozen=True)
class Case:
    """``run(dtype, seed) -> CheckReport``; ``ok(report)``: the outcome the case expects."""

    part: str
    name: str
    run: Callable
    ok: Callable
    dtypes: tuple = ("float64", "float32")
    examples: int = DEFAULT_EXAMPLES


def _fy(reg, **params):
    loss = FenchelYoungLoss(refefl.regularizer(reg, **params))
    return {"grad_fn": loss.grad}, loss.value


def _min_min(divergence, alpha=None):
    from refefl.partition import min_min_loss

    value = partial(min_min_loss, divergence=divergence, alpha=alpha)
    return {"grad_fn": lambda *a: min_min_loss(*a, divergence=divergence, alpha=alpha, return_grad=True)[1]}, value


def _generalized(reg):
    from refefl import GeneralizedFenchelYoungLoss
    from refefl.energies import Quadratic

    loss = GeneralizedFenchelYoungLoss(Quadratic(), refefl.regularizer(reg))
    return {"grad_fn": lambda t, a, y: loss.grad((t, a), y)}, lambda t, a, y: loss.value((t, a), y)


def refefl_implementations() -> dict[str, tuple[dict, Callable]]:
    """refefl's implementation of every kind: ``kind -> (extra check options, function)``."""
    impl = {
        "softmax": refefl.softmax,
        "sparsemax": refefl.sparsemax,
        "entmax15": partial(refefl.entmax, alpha=1.5),
        "box": refefl.regularizer("binary_entropy").predict,
        "capped_simplex_entropic": partial(refefl.capped_simplex_entropic, s=2.0),
        "projection_simplex": refefl.projection_simplex,
        "projection_box": refefl.regularizer("box_squared").predict,
        "projection_capped_simplex": partial(refefl.projection_capped_simplex, s=2.0),
        "isotonic": refefl.isotonic_regression,
        "soft_rank": refefl.soft_rank,
        "soft_rank_kl": partial(refefl.soft_rank, regularization="kl"),
        "soft_sort": refefl.soft_sort,
        "soft_sort_kl": partial(refefl.soft_sort, regularization="kl"),
    }
    out = {kind: ({}, fn) for kind, fn in impl.items()}
    out.update(softmax_loss=_fy("shannon"), sparsemax_loss=_fy("sparsemax"), entmax15_loss=_fy("tsallis", alpha=1.5),
               min_min_loss=_min_min("kl"), min_min_sparsemax_loss=_min_min("sparsemax"),
               min_min_tsallis15_loss=_min_min("tsallis", 1.5), generalized_fy_loss=_generalized("binary_entropy"),
               generalized_fy_box_squared_loss=_generalized("box_squared"))
    missing = sorted(set(KINDS) - set(out))
    if missing:
        raise RuntimeError(f"no refefl implementation listed for the kinds {missing}")
    return out


def refefl_cases() -> list[Case]:
    ok = lambda report: report.ok  # noqa: E731
    cases = []
    for kind, (options, fn) in refefl_implementations().items():
        cases.append(Case("refefl", kind, lambda dtype, seed, kind=kind, fn=fn, options=options:
                          KINDS[kind].run(fn, dtype=dtype, seed=seed, **options), ok))
    sparsemax = refefl.regularizer("sparsemax")
    derivatives = {
        "jvp:sparsemax": lambda dtype, seed: check_jvp(sparsemax.predict, sparsemax.jvp, "sparsemax", dtype=dtype,
                                                       seed=seed),
        "jvp:soft_rank": lambda dtype, seed: check_jvp(P.soft_rank, P.soft_rank_jvp, "soft_rank", dtype=dtype,
                                                       seed=seed),
        "jvp:soft_sort": lambda dtype, seed: check_jvp(P.soft_sort, P.soft_sort_jvp, "soft_sort", dtype=dtype,
                                                       seed=seed),
        "vjp:soft_rank": lambda dtype, seed: check_vjp(P.soft_rank, P.soft_rank_vjp, "soft_rank", dtype=dtype,
                                                       seed=seed),
        "vjp:soft_sort": lambda dtype, seed: check_vjp(P.soft_sort, P.soft_sort_vjp, "soft_sort", dtype=dtype,
                                                       seed=seed),
    }
    cases += [Case("refefl", name, run, ok) for name, run in derivatives.items()]
    return cases


def _load(module: str):
    spec = importlib.util.spec_from_file_location(module, ROOT / "tests" / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module] = mod  # its functions are then importable by name (the CLI test loads them)
    spec.loader.exec_module(mod)
    return mod


def mutant_cases() -> list[Case]:
    """Each entry of the tests' ``MUTANTS`` tables: expected outcome, its property fails (and is not skipped)."""
    cases = []
    for module in MUTANT_MODULES:
        for mutant in _load(module).MUTANTS:
            def caught(report, prop=mutant.caught_by):
                return report[prop].verdict == "failed"

            cases.append(Case("mutant", f"{mutant.name} → {mutant.caught_by}",
                              lambda dtype, seed, m=mutant: m.run(seed=seed, dtype=dtype), caught,
                              dtypes=mutant.dtypes, examples=mutant.examples))
    return cases


def _profile(part: str) -> None:
    """Mutants: a Hypothesis profile without the shrink phase (inherited by the checks' own settings); refefl:
    the default (shrinking only runs on a failure, whose time is then part of the call)."""
    from hypothesis import Phase, settings

    settings.register_profile("no_shrink", phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile("no_shrink" if part == "mutant" else "default")


def run_case(case: Case, dtype: str, seeds: int) -> dict:
    times, cpu, failing, props = [], [], [], set()
    _profile(case.part)
    for seed in range(seeds):
        start, start_cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report: CheckReport = case.run(dtype, seed)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if not case.ok(report):
            failing.append(seed)
            props |= {r.name for r in report.failures} if case.part == "refefl" else {"not caught"}
    return {"part": case.part, "case": case.name, "dtype": dtype, "examples": case.examples, "seeds": seeds,
            "passed": seeds - len(failing), "failing_seeds": " ".join(map(str, failing)),
            "failing_properties": " ".join(sorted(props)), "median_s": f"{np.median(times):.2f}",
            "max_s": f"{max(times):.2f}", "median_cpu_s": f"{np.median(cpu):.2f}", "max_cpu_s": f"{max(cpu):.2f}"}


def render(rows: list[dict]) -> str:
    refefl_rows = [r for r in rows if r["part"] == "refefl"]
    mutants = [r for r in rows if r["part"] == "mutant"]
    slow = [r for r in refefl_rows if float(r["max_cpu_s"]) > TARGET_SECONDS]
    flaky = [r for r in rows if int(r["passed"]) < int(r["seeds"])]
    lines = [
        "# refefl.testing across seeds",
        "",
        "Generated by `nice -n 10 python -m benchmarks.testing_seeds` (do not edit). "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, refefl {refefl.__version__}, backend "
        f"{'numpy' if os.environ.get('REFEFL_PURE_NUMPY') == '1' else 'auto'}, OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}.",
        "",
        f"- refefl implementations passing every property at every seed: "
        f"{sum(int(r['passed']) == int(r['seeds']) for r in refefl_rows)}/{len(refefl_rows)} (case × dtype)",
        f"- mutants caught by their named property at every seed: "
        f"{sum(int(r['passed']) == int(r['seeds']) for r in mutants)}/{len(mutants)}",
        f"- slowest default call ({DEFAULT_EXAMPLES} examples per property), CPU time of the process (the checks "
        "are single-threaded, so this is the call's time on a free core; wall time below is inflated by the other "
        "jobs sharing the 2 cores): "
        + (max((f"{float(r['max_cpu_s']):.1f} s ({r['case']}, {r['dtype']})" for r in refefl_rows),
               key=lambda s: float(s.split()[0])) if refefl_rows else "n/a")
        + f"; over the {TARGET_SECONDS:g} s target: {', '.join(r['case'] for r in slow) or 'none'}",
        "- flaky or uncaught: " + (", ".join(f"{r['case']} ({r['dtype']})" for r in flaky) or "none"),
        "",
        "## refefl's implementations (a pass: every property passed or was skipped as not applicable)",
        "",
        "| kind | dtype | seeds passed | failing seeds | failing properties | median CPU s | max CPU s | "
        "max wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['case']} | {r['dtype']} | {r['passed']}/{r['seeds']} | {r['failing_seeds'] or '–'} | "
              f"{r['failing_properties'] or '–'} | {r['median_cpu_s']} | {r['max_cpu_s']} | {r['max_s']} |"
              for r in refefl_rows]
    lines += ["", "## Mutants (a pass: the named property failed)", "",
              "| mutant → property | dtype | examples | seeds caught | missed at seeds | median CPU s |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['dtype']} | {r['examples']} | {r['passed']}/{r['seeds']} | "
              f"{r['failing_seeds'] or '–'} | {r['median_cpu_s']} |" for r in mutants]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.testing_seeds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--part", choices=["refefl", "mutants"], help="run one part (the other's rows are kept)")
    parser.add_argument("--only", help="run only cases whose name contains this (rows not run are kept)")
    parser.add_argument("--out", default=str(RESULTS / "testing_seeds"), help="path without extension")
    args = parser.parse_args(argv)
    cases = []
    if args.part in (None, "refefl"):
        cases += refefl_cases()
    if args.part in (None, "mutants"):
        cases += mutant_cases()
    cases = [c for c in cases if not args.only or args.only in c.name]
    path = Path(args.out + ".csv")
    rows = {}
    if path.exists():
        with path.open(encoding="utf-8") as f:
            rows = {(r["part"], r["case"], r["dtype"]): r for r in csv.DictReader(f)}
    for case in cases:
        for dtype in case.dtypes:
            row = run_case(case, dtype, args.seeds)
            rows[(row["part"], row["case"], row["dtype"])] = row
            print(f"{case.part:>6} {case.name:<60} {dtype:<8} {row['passed']:>2}/{args.seeds}  "
                  f"CPU median {row['median_cpu_s']} s, max {row['max_cpu_s']} s (wall max {row['max_s']} s)  "
                  f"{row['failing_properties']}", flush=True)
            with path.open("w", newline="", encoding="utf-8") as f:  # after every row: a long run can be resumed
                writer = csv.DictWriter(f, FIELDS)
                writer.writeheader()
                writer.writerows(sorted(rows.values(), key=lambda r: (r["part"] != "refefl",)))
    ordered = sorted(rows.values(), key=lambda r: (r["part"] != "refefl",))
    Path(args.out + ".md").write_text(render(ordered), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
