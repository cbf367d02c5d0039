"""The stages of ``python -m refefl reproduce``: what each runs under the quick and the full protocol, and how its
numbers line up with the paper's.

A stage is a function ``run(settings, context) -> StageOutput``; its settings are plain data (the quick or the full
protocol, stated in the report), and every training unit inside it seeds its own generator, so that its results
do not depend on the number of workers (``context.n_jobs``).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

MULTILABEL = ("yeast", "scene", "emotions", "birds", "cal500")
RANKING = ("authorship", "glass", "iris", "vehicle", "vowel", "wine")
#: the quick protocol's subsets: the smaller data sets, so that the whole quick run fits in about ten minutes
QUICK_MULTILABEL = ("emotions", "scene", "yeast")
QUICK_RANKING = ("iris", "wine", "glass")


@dataclass(frozen=True)
class Context:
    """Where a stage reads and writes, and how many workers its units get.

    ``data_dir`` is passed to the data loaders (None: ``$REFEFL_DATA``); ``synthetic`` picks the seeded stand-in
    data; ``log(line)`` receives the stage's progress lines (per model, seed, fold)."""

    out: Path
    data_dir: str | None
    synthetic: bool
    n_jobs: int
    log: Callable[[str], None]


@dataclass
class Comparison:
    """One number of refefl's beside the paper's: ``better`` is "higher", "lower" or None (no met/missed mark)."""

    table: str
    row: str
    quantity: str
    refefl: float | None
    paper: float | None = None
    better: str | None = "higher"
    peer: str | None = None

    @property
    def difference(self) -> float | None:
        return None if self.refefl is None or self.paper is None else self.refefl - self.paper

    @property
    def met(self) -> bool | None:
        if self.better is None or self.paper is None or self.refefl is None or not np.isfinite(self.refefl):
            return None
        return self.refefl >= self.paper if self.better == "higher" else self.refefl <= self.paper


@dataclass
class StageOutput:
    """What a stage hands to the report: its results (JSON-ready), the data it read per table, its detailed
    Markdown tables and its figures (paths relative to the output folder)."""

    results: dict
    data: dict[str, str] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def _folder(context: Context, name: str) -> Path:
    folder = context.out / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _side_by_side(plans: list, datasets: list[str], task: str, context: Context, desc: str) -> dict[str, dict]:
    """Run the data sets' plans side by side (each phase's units of every data set in one call, so that small
    data sets leave no worker idle) and return {data set: results} in the stage's order.

    The data sets with the most labels go first: their fits are the longest, and a long fit handed out last would
    end its phase alone on one worker (cal500's GFY fit is a quarter of the quick partition multilabel stage)."""
    from refefl.datasets import load_label_ranking, load_multilabel
    from refefl.experiments._protocol import gather, run_plan

    def n_labels(name: str) -> int:
        if task == "multilabel":
            return load_multilabel(name, context.data_dir, synthetic=context.synthetic).Y_train.shape[1]
        return load_label_ranking(name, context.data_dir, synthetic=context.synthetic).Y.shape[1]

    order = sorted(range(len(datasets)), key=lambda index: -n_labels(datasets[index]))
    runs = run_plan(gather([plans[index] for index in order]), n_jobs=context.n_jobs, desc=desc)
    by_name = {datasets[index]: results for index, results in zip(order, runs)}
    return {name: by_name[name] for name in datasets}


def _figure(plot: Callable, context: Context, relative: str, *args) -> list[str]:
    """``plot(*args, path)`` into ``context.out / relative``; [relative] when a figure was written."""
    path = context.out / relative
    written = plot(*args, path)
    return [relative] if written is not False and path.is_file() else []


# --- paper 1: generalized Fenchel-Young losses ----------------------------------------------------------------

def gfy_multilabel(settings: dict, context: Context) -> StageOutput:
    """Blondel et al. (2022), multilabel classification, per data set (:mod:`refefl.experiments.multilabel`); the
    data sets' phases run side by side."""
    from refefl.experiments import multilabel

    _folder(context, "gfy_multilabel")
    output = StageOutput({})
    plans = [multilabel.plan(dataset, seeds=settings["seeds"], data_dir=context.data_dir,
                             synthetic=context.synthetic, quick=settings["quick"],
                             max_epochs=settings.get("max_epochs"), log=context.log)
             for dataset in settings["datasets"]]
    for dataset, results in _side_by_side(plans, settings["datasets"], "multilabel", context,
                                          "GFY multilabel").items():
        output.results[dataset] = results
        output.data[dataset] = results["source"]
        output.tables.append(multilabel.markdown(results, "python -m refefl reproduce"))
        output.figures += _figure(multilabel.plot, context, f"gfy_multilabel/{dataset}.png", results)
    return output


def gfy_multilabel_comparisons(results: dict) -> list[Comparison]:
    """Per data set, the best GFY model's test Hamming accuracy against the paper's best model (Blondel et al.
    2022, Table 1), with scikit-learn's binary relevance beside."""
    from refefl.experiments import multilabel

    rows = []
    for dataset, result in results.items():
        gfy = {name: entry for name, entry in result["models"].items() if not name.startswith("binary relevance")}
        best = max(gfy, key=lambda name: gfy[name]["hamming_accuracy"]["mean"])
        paper = None if result["source"] == "synthetic" else multilabel.PAPER.get(dataset)
        rows.append(Comparison("GFY multilabel: test Hamming accuracy (%) of the best model", dataset, best,
                               100 * gfy[best]["hamming_accuracy"]["mean"], paper,
                               peer=_best_sklearn(result.get("sklearn_br"))))
    return rows


def _best_sklearn(rows: list[dict] | None) -> str | None:
    if not rows:
        return None
    best = max(rows, key=lambda row: row["hamming_accuracy"])
    return f"scikit-learn BR (C = {best['C']}): {100 * best['hamming_accuracy']:.2f}"


def imitation(settings: dict, context: Context) -> StageOutput:
    """Blondel et al. (2022), imitation learning on refefl's navigation task (:mod:`refefl.experiments.imitation`)."""
    from refefl.experiments import imitation as experiment

    config = experiment.Config(**settings, verbose=False)
    report, artefacts = experiment.run(config, n_jobs=context.n_jobs)
    for name, result in report["results"].items():
        rate = result["success_rate"]
        context.log(f"{name}: success rate {100 * rate['mean']:.1f} ± {100 * rate['std']:.1f} % over "
                    f"{config.seeds} seed(s)")
    _folder(context, "imitation")
    output = StageOutput(report, data={"navigation": "simulated task (refefl.experiments._navigation)"})
    output.tables.append(experiment.markdown(report, "python -m refefl reproduce"))
    output.figures += _figure(experiment.plot, context, "imitation/imitation.png", report, artefacts)
    return output


def imitation_comparisons(results: dict) -> list[Comparison]:
    """Success rate per policy; the paper's environments and numbers were not available (no paper number)."""
    from refefl.experiments import imitation as experiment

    return [Comparison("Imitation: success rate (%) on refefl's navigation task", label, "success rate",
                       100 * results["results"][name]["success_rate"]["mean"], better=None)
            for name, label in {"expert": "expert", **experiment.POLICIES}.items() if name in results["results"]]


# --- paper 2: energy and partition networks learned jointly --------------------------------------------------

def partition_multilabel(settings: dict, context: Context) -> StageOutput:
    """Sander et al. (2025), multilabel, per data set (:mod:`refefl.experiments.partition`)."""
    from refefl.experiments import partition

    plans = [partition.multilabel_plan(dataset, seeds=settings["seeds"], data_dir=context.data_dir,
                                       synthetic=context.synthetic, quick=settings["quick"],
                                       max_epochs=settings.get("max_epochs"), log=context.log)
             for dataset in settings["datasets"]]
    return _partition_output(partition, plans, settings["datasets"], "multilabel", context)


def partition_multilabel_comparisons(results: dict) -> list[Comparison]:
    """Test example-F1 per model against the paper's, and the unary model's median |τ(x) − log Z(x)| on unseen x
    against the 0.1 nats this repository set itself (no paper number)."""
    from refefl.experiments import partition

    rows = _partition_comparisons(results, "multilabel: test example-F1 (%)", "example_f1",
                                  partition.PAPER_MULTILABEL)
    for dataset, result in results.items():
        gap = result.get("unary_tau_gap")
        if gap:
            rows.append(Comparison("Partition networks: median |τ(x) − log Z(x)| on unseen x (nats; target, not "
                                   "paper)", dataset, "min-min logistic, unary", gap["median_abs_nats"], 0.1,
                                   better="lower"))
    return rows


def partition_ranking(settings: dict, context: Context) -> StageOutput:
    """Sander et al. (2025), label ranking, per data set (k-fold cross-validation)."""
    from refefl.experiments import partition

    plans = [partition.ranking_plan(dataset, seeds=settings["seeds"], folds=settings["folds"],
                                    data_dir=context.data_dir, synthetic=context.synthetic, quick=settings["quick"],
                                    max_epochs=settings.get("max_epochs"), log=context.log)
             for dataset in settings["datasets"]]
    return _partition_output(partition, plans, settings["datasets"], "ranking", context)


def partition_ranking_comparisons(results: dict) -> list[Comparison]:
    """Test Kendall τ per model against the paper's."""
    from refefl.experiments import partition

    return _partition_comparisons(results, "label ranking: test Kendall τ (%)", "kendall_tau",
                                  partition.PAPER_RANKING)


def _partition_output(partition, plans: list, datasets: list[str], task: str, context: Context) -> StageOutput:
    """Run the data sets' plans side by side (:func:`_side_by_side`) and collect their tables and τ figures."""
    _folder(context, "partition")
    output = StageOutput({})
    for dataset, results in _side_by_side(plans, datasets, task, context, f"partition {task}").items():
        output.results[dataset] = results
        output.data[dataset] = results["source"]
        output.tables.append(partition.markdown(results, "python -m refefl reproduce"))
        output.figures += _figure(partition.plot_tau, context, f"partition/{task}_{dataset}_tau.png", results)
    return output


def _partition_comparisons(results: dict, label: str, metric: str, papers: dict) -> list[Comparison]:
    rows = []
    for dataset, result in results.items():
        paper = {} if result["source"] == "synthetic" else papers.get(dataset, {})
        rows += [Comparison(f"Partition networks, {label}", dataset, model, entry[metric]["mean"], paper.get(model))
                 for model, entry in result["models"].items()]
    return rows


# --- paper 3: dual training by particle GDA --------------------------------------------------------------------

def gda(settings: dict, context: Context) -> StageOutput:
    """Domingo-Enrich et al. (2022), the d = 3 teacher-student experiment per N (:mod:`refefl.experiments.gda`)."""
    from refefl import gda as gda_module
    from refefl.experiments import gda as experiment

    folder, output = _folder(context, "gda"), StageOutput({}, data={"teacher": "the paper's teacher, sampled"})
    teacher = gda_module.paper_teacher(3, 10.0)
    seeds = list(range(settings["seeds"]))
    for n_data in settings["n_data"]:
        args = experiment.build_parser().parse_args(
            ["--dim", "3", "--n-data", str(n_data), "--iters", str(settings["iters"]), "--quiet", "--restart",
             *settings["restart"], "--n-neurons", str(settings["n_neurons"]), "--quadrature",
             str(settings["quadrature"]), "--out-dir", str(folder)])
        runs = experiment.run_seeds(seeds, teacher, args, context.n_jobs)
        finals = {run["restart"]: [seed_runs[i]["final"] for seed_runs in runs] for i, run in enumerate(runs[0])}
        for restart, per_seed in finals.items():
            context.log(f"N = {n_data}, p_R = {restart}: final KL per seed "
                        + ", ".join(f"{final['kl']:.3g}" for final in per_seed))
        output.results[str(n_data)] = {"seeds": seeds, "iters": args.iters, "finals": finals,
                                       "curves": [experiment._to_json(run) for run in runs[0]]}
        output.tables.append(experiment.seeds_markdown(finals, seeds, args, "python -m refefl reproduce"))
        output.figures += _figure(experiment.plot_curves, context, f"gda/curves_n{n_data}.png", runs[0])
        output.figures += _figure(experiment.plot_spheres, context, f"gda/sphere_n{n_data}.png", teacher,
                                  runs[0][-1])
    return output


def gda_comparisons(results: dict) -> list[Comparison]:
    """Per N and p_R, the median over seeds of KL@500, KL@1000, the final KL and SM against the paper's (one run
    each, after 4000 iterations; lower is better)."""
    from refefl.experiments import gda as experiment

    rows = []
    for n_data, result in results.items():
        for restart, per_seed in result["finals"].items():
            paper = experiment.PAPER_D3.get((int(n_data), restart)) if result["iters"] == 4000 else None
            for position, key in enumerate(experiment.SEED_METRICS[:4]):
                if key not in per_seed[0]:
                    continue  # KL@500 and KL@1000 of runs shorter than that
                rows.append(Comparison(f"Particle GDA, d = 3, N = {n_data}: median over {len(result['seeds'])} "
                                       f"seed(s)", f"p_R = {restart}", key.upper(),
                                       float(np.median([final[key] for final in per_seed])),
                                       None if paper is None else paper[position], better="lower"))
    return rows


# --- the kernels -------------------------------------------------------------------------------------------------

def benchmarks(settings: dict, context: Context) -> StageOutput:
    """refefl's kernels against their NumPy twins and the peers: ``python -m benchmarks`` of the source checkout,
    alone in its own process (one BLAS thread; timings are not run beside other work)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "run.py").is_file():
        raise FileNotFoundError(f"the benchmarks stage runs {root / 'benchmarks'} of a source checkout of refefl, "
                                f"which this installation does not have")
    folder = _folder(context, "benchmarks")
    command = [sys.executable, "-m", "benchmarks", "--out-dir", str(folder.resolve()), *settings["arguments"]]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    if context.data_dir is not None:  # the data the run was given, for the benchmarks that train on yeast
        env["REFEFL_DATA"] = context.data_dir
    elif context.synthetic:  # no data: those benchmarks are skipped (they have no stand-in)
        env.pop("REFEFL_DATA", None)
    with (folder / "benchmarks.log").open("w") as log:
        subprocess.run(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    output = StageOutput({"summary": summary, "csv": _csv_tables(folder)},
                         data={"kernels": "seeded random inputs"}, tables=[summary])
    output.figures = sorted(f"benchmarks/{path.name}" for path in folder.glob("*.png"))
    return output


def benchmark_comparisons(results: dict) -> list[Comparison]:
    """None: the kernels have targets (ratios to floors and peers, in the benchmark summary), not paper numbers."""
    return []


def _csv_tables(folder: Path) -> dict[str, list[dict]]:
    """Every CSV table the benchmarks wrote, as rows (the numbers of the JSON report)."""
    return {path.stem: list(csv.DictReader(path.open())) for path in sorted(folder.glob("*.csv"))}


@dataclass(frozen=True)
class Stage:
    """A stage: its name (for ``--only``), the paper it reproduces, its runner, the function that lines its
    results up with the paper's numbers, and its two protocols."""

    name: str
    paper: str
    run: Callable[[dict, Context], StageOutput]
    compare: Callable[[dict], list[Comparison]]
    quick: dict
    full: dict
    needs_data: bool = True

    def settings(self, full: bool) -> dict:
        return self.full if full else self.quick


PAPER_GFY = "Blondel, Llinares-López, Dadashi, Hussenot, Geist (NeurIPS 2022): generalized Fenchel-Young losses"
PAPER_PARTITION = "Sander, Roulet, Liu, Blondel (ICML 2025): joint learning of EBMs and their partition function"
PAPER_GDA = "Domingo-Enrich, Bietti, Gabrié, Bruna, Vanden-Eijnden (2022): dual training by particle GDA"
#: the paper's d = 3 setting: 64 neurons, 4000 iterations, p_R in {0, 1, 1/60}; KL by a 100 x 100 quadrature
_GDA = {"iters": 4000, "restart": [str(Fraction(0)), str(Fraction(1)), str(Fraction(1, 60))], "n_neurons": 64,
        "quadrature": 100}

#: in the order they run: the papers' experiments, then the kernel benchmarks (timed alone, last)
STAGES = {stage.name: stage for stage in (
    Stage("gfy_multilabel", PAPER_GFY, gfy_multilabel, gfy_multilabel_comparisons,
          quick={"datasets": QUICK_MULTILABEL, "seeds": 1, "quick": True},
          full={"datasets": MULTILABEL, "seeds": 5, "quick": False}),
    Stage("imitation", PAPER_GFY, imitation, imitation_comparisons,
          quick={"seeds": 2, "episodes": 20, "step_scale": 0.25}, full={"seeds": 5, "episodes": 50},
          needs_data=False),
    Stage("partition_multilabel", PAPER_PARTITION, partition_multilabel, partition_multilabel_comparisons,
          quick={"datasets": MULTILABEL, "seeds": 1, "quick": True},
          full={"datasets": MULTILABEL, "seeds": 3, "quick": False}),
    Stage("partition_ranking", PAPER_PARTITION, partition_ranking, partition_ranking_comparisons,
          quick={"datasets": QUICK_RANKING, "seeds": 1, "folds": 3, "quick": True, "max_epochs": 100},
          full={"datasets": RANKING, "seeds": 3, "folds": 10, "quick": False}),
    Stage("gda", PAPER_GDA, gda, gda_comparisons,
          quick={"n_data": [1000], "seeds": 2, **_GDA}, full={"n_data": [1000, 10000], "seeds": 5, **_GDA},
          needs_data=False),
    Stage("benchmarks", "refefl's kernels", benchmarks, benchmark_comparisons, quick={"arguments": ["--quick"]},
          full={"arguments": []}, needs_data=False),
)}
