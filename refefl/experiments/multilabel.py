"""Multilabel classification with generalized Fenchel-Young losses (Blondel et al., NeurIPS 2022, §6).

``python -m refefl.experiments.multilabel --dataset yeast`` compares, on the Mulan train/test split, unary models
(logistic: binary-entropy FY loss; sparse: ½‖·‖² on the box), quadratic (pairwise) energies with both regularizers,
an MLP energy, and binary-relevance logistic regression. Protocol:

1. every model has a small grid of hyperparameters; each configuration is trained on the training split with
   ``validation_fraction`` of it held out (early stopping), and the configuration with the best validation Hamming
   accuracy (ties: lower validation loss, then grid order) is kept. The test split is never looked at;
2. the chosen configuration is trained for every seed (seeds change the validation split, the initialization and
   the minibatch order), with ``refit=True``: the epochs chosen on the validation split, then a fresh model on
   the whole training split for that many epochs;
3. Hamming accuracy, example-based F1, micro and macro F1 on the test split, mean ± std over seeds.

When scikit-learn is installed, its ``OneVsRestClassifier(LogisticRegression(C))`` on the standardized features is
fitted for every C of the binary-relevance grid and reported beside (computed at run time, on the test split).

Data: ``--data-dir`` (the data root or its ``multilabel`` folder), else ``$REFEFL_DATA``; a missing file is an
error. ``--synthetic`` runs on the seeded synthetic stand-in instead, and every table then says so.

Outputs: a Markdown table (printed and written to ``--out-dir``, default the current folder), a PNG bar chart,
and ``--json PATH``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from refefl.datasets import MULTILABEL_DATASETS, load_multilabel
from refefl.estimators import METRICS, BinaryRelevanceLogisticRegression, EnergyMultilabelClassifier
from refefl.experiments._protocol import Plan, blas_threads, describe, grid, jsonable, prefixed, run_plan
from refefl.projections._root_finding import ConvergenceWarning

#: test "accuracy" (= Hamming accuracy, %) of the best model in Blondel et al. (2022), Table 1
PAPER = {"yeast": 80.19, "scene": 91.58, "emotions": 80.56, "birds": 91.77, "cal500": 86.35}
#: the C values of binary relevance (refefl's grid, and scikit-learn's reference rows)
BR_C_GRID = (0.01, 0.1, 1.0)
#: printed on every table made from the stand-in
SYNTHETIC_NOTE = "synthetic stand-in; set REFEFL_DATA for the papers' data"
#: shared by every model: Adam, minibatches, early stopping on 20% of the training split, then refit on all of it
COMMON = {"learning_rate": 1e-3, "batch_size": 64, "max_epochs": 200, "patience": 10, "validation_fraction": 0.2}
_MLP = {"hidden_layer_sizes": (256,)}
# a linear network takes larger Adam steps than the MLP (both found on validation splits)
_LINEAR = {"hidden_layer_sizes": (), "learning_rate": 1e-2}
_DECAYS = (1e-2, 3e-2, 1e-1)




def model_grids(quick: bool = False) -> dict[str, tuple[type, list[dict]]]:
    """Model name -> (estimator class, hyperparameter grid). ``quick``: one configuration per model."""
    decays = (3e-2,) if quick else _DECAYS
    nets = (_MLP,) if quick else (_LINEAR, _MLP)
    unary = {"energy": "unary"}
    grids = {
        "unary logistic (FY, binary entropy)": grid({**unary, "regularizer": "binary_entropy"},
                                                      network=nets, weight_decay=decays),
        "unary sparse (FY, box ½‖·‖²)": grid({**unary, "regularizer": "box_squared"},
                                               network=nets, weight_decay=decays),
        "quadratic GFY (binary entropy)": grid({"energy": "quadratic", "regularizer": "binary_entropy", **_MLP},
                                                weight_decay=decays),
        "quadratic GFY (box ½‖·‖²)": grid({"energy": "quadratic", "regularizer": "box_squared", **_MLP},
                                           weight_decay=decays),
        "MLP-energy GFY (binary entropy)": grid({"energy": "mlp", "regularizer": "binary_entropy", **_MLP,
                                                  "energy_hidden": (32,)}, weight_decay=decays[:2]),
    }
    models = {name: (EnergyMultilabelClassifier, grid) for name, grid in grids.items()}
    models["binary relevance logistic regression"] = (
        BinaryRelevanceLogisticRegression,
        grid({"learning_rate": _LINEAR["learning_rate"]}, C=(0.1,) if quick else BR_C_GRID))
    return models


def _quiet(method, *args):
    """Call ``method`` with the inner solvers' budget warnings silenced (training counts them in ``history_``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return method(*args)


def validate_config(cls: type, config: dict, index: int, data, seed: int, overrides: dict) -> dict:
    """Unit of work: ``cls(**config)`` trained on the training split with its validation split (seed ``seed``):
    ``{"key": (−validation Hamming, validation loss, grid index), "score": validation Hamming, "epoch"}``."""
    estimator = cls(**{**COMMON, **config, **overrides, "random_state": seed})
    _quiet(estimator.fit, data.X_train, data.Y_train)
    return {"key": (-estimator.best_validation_score_, estimator.best_validation_loss_, index),
            "score": estimator.best_validation_score_, "epoch": estimator.best_epoch_}


def selection(models: dict[str, tuple[type, list[dict]]], data, seed: int, overrides: dict, log=print) -> Plan:
    """Plan (:mod:`refefl.experiments._protocol`): per model, the configuration of its grid with the best
    validation Hamming accuracy (ties: lower validation loss, then grid order; training split only) and every
    candidate with its score, as ``{name: (config, candidates)}``. The configurations of all models are the units
    of one phase (:func:`validate_config`); a grid of one configuration is kept without a fit (score None)."""
    units = [(name, cls, config, index) for name, (cls, configs) in models.items() if len(configs) > 1
             for index, config in enumerate(configs)]
    outcomes = yield [(validate_config, cls, config, index, data, seed, overrides) for _, cls, config, index in units]
    chosen = {}
    for name, (_, configs) in models.items():
        scored = [(outcome["key"], config, outcome) for (model, _, config, _), outcome in zip(units, outcomes)
                  if model == name]
        for _, config, outcome in scored:
            log(f"    {name}, {describe(config)}: validation Hamming {100 * outcome['score']:.2f}, "
                f"epoch {outcome['epoch']}")
        best = min(scored, key=lambda item: item[0])[1] if scored else configs[0]
        chosen[name] = (best, [{"config": jsonable(config), "validation_hamming": outcome["score"]}
                               for _, config, outcome in scored] or
                        [{"config": jsonable(best), "validation_hamming": None}])
    return chosen


def test_seed(cls: type, config: dict, data, seed: int, overrides: dict) -> dict:
    """Unit of work: ``cls(**config)`` refitted for ``seed`` (``refit=True``) and scored on the test split:
    {metric: value, "unconverged": inner solves that used up their budget}."""
    fitted = _quiet(cls(**{**COMMON, **config, **overrides, "random_state": seed, "refit": True}).fit,
                    data.X_train, data.Y_train)
    predictions = _quiet(fitted.predict, data.X_test)
    scores = {metric: float(function(data.Y_test, predictions)) for metric, function in METRICS.items()}
    return {**scores, "unconverged": sum(record["unconverged"] for record in fitted.history_)}


def summarize(per_seed: list[dict]) -> dict:
    """Mean and std over seeds of every metric, the per-seed values and the unconverged inner solves."""
    summary = {name: {"mean": float(np.mean([s[name] for s in per_seed])),
                      "std": float(np.std([s[name] for s in per_seed]))} for name in METRICS}
    return {**summary, "per_seed": [{name: s[name] for name in METRICS} for s in per_seed],
            "unconverged_minibatches": int(sum(s["unconverged"] for s in per_seed))}


def sklearn_reference(data, C_grid=BR_C_GRID) -> list[dict] | None:
    """scikit-learn's binary-relevance logistic regression for each C: test metrics (fractions), or None when
    scikit-learn is not installed. Features standardized with the training split's mean and scale, as refefl's
    :class:`BinaryRelevanceLogisticRegression` does; labels constant on the training split are predicted as such."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    mean, scale = data.X_train.mean(axis=0), data.X_train.std(axis=0)
    scale[scale == 0] = 1.0
    Z_train, Z_test = (data.X_train - mean) / scale, (data.X_test - mean) / scale
    rows = []
    for C in C_grid:
        predictions = np.empty_like(data.Y_test)
        for j, column in enumerate(data.Y_train.T):
            if np.ptp(column) == 0:
                predictions[:, j] = column[0]
                continue
            model = LogisticRegression(C=C, max_iter=10_000).fit(Z_train, column)
            predictions[:, j] = model.predict(Z_test)
        rows.append({"C": C, **{name: float(metric(data.Y_test, predictions)) for name, metric in METRICS.items()}})
    return rows


def plan(dataset: str, *, seeds: int = 5, data_dir=None, synthetic: bool = False, quick: bool = False,
         max_epochs: int | None = None, log=print) -> Plan:
    """Plan of the comparison on ``dataset`` (see the module docstring); returns the results.

    Two phases of independent units: every grid configuration of every model (:func:`selection`), then every
    model × seed (:func:`test_seed`) and scikit-learn's reference. ``data_dir`` / ``synthetic`` are passed to
    :func:`refefl.datasets.load_multilabel` (a missing file raises ``FileNotFoundError``). ``seconds`` in the
    results is the wall time until they were complete (shared with any data set run beside it)."""
    start = time.perf_counter()
    data = load_multilabel(dataset, data_dir, synthetic=synthetic)
    say = prefixed(log, dataset)
    overrides = {} if max_epochs is None else {"max_epochs": max_epochs}
    seed_list = list(range(seeds))
    results = {"dataset": dataset, "source": data.source, "n_train": int(len(data.X_train)),
               "n_test": int(len(data.X_test)), "n_features": int(data.X_train.shape[1]),
               "n_labels": int(data.Y_train.shape[1]), "seeds": seed_list, "quick": quick,
               "common": jsonable({**COMMON, **overrides, "refit": True}), "models": {}}
    models = model_grids(quick)
    say(f"selecting each model's configuration on the validation split (seed {seed_list[0]})")
    chosen = yield from selection(models, data, seed_list[0], overrides, say)
    units = [(name, seed) for name in models for seed in seed_list]
    *tested, sklearn_rows = yield [*((test_seed, models[name][0], chosen[name][0], data, seed, overrides)
                                     for name, seed in units), (sklearn_reference, data)]
    for name, (config, candidates) in chosen.items():
        per_seed = [scores for (model, _), scores in zip(units, tested) if model == name]
        for seed, scores in zip(seed_list, per_seed):
            say(f"  {name}, seed {seed}: test Hamming accuracy {100 * scores['hamming_accuracy']:.2f}")
        entry = summarize(per_seed)
        results["models"][name] = {**entry, "hyperparameters": jsonable(config), "candidates": candidates}
        say(f"{name}: chose {describe(config)}; test Hamming accuracy {_pm(entry['hamming_accuracy'])}")
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["sklearn_br"] = sklearn_rows
    return results


def run(dataset: str, *, seeds: int = 5, data_dir=None, synthetic: bool = False, quick: bool = False,
        max_epochs: int | None = None, n_jobs: int = 1, log=print) -> dict:
    """Run the comparison on ``dataset`` and return the results (:func:`plan`), its units on ``n_jobs`` workers
    (:func:`refefl.experiments._protocol.run_units`); the results do not depend on ``n_jobs``."""
    return run_plan(plan(dataset, seeds=seeds, data_dir=data_dir, synthetic=synthetic, quick=quick,
                         max_epochs=max_epochs, log=log), n_jobs=n_jobs, desc=dataset)


def _pm(stat: dict) -> str:
    return f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}"


def markdown(results: dict, command: str) -> str:
    """The results as a Markdown section: setup, table, targets."""
    name, models = results["dataset"], results["models"]
    synthetic = results["source"] == "synthetic"
    lines = [
        f"## Multilabel classification: {name}" + (f" ({SYNTHETIC_NOTE})" if synthetic else ""),
        "",
        f"Data: `{results['source']}`{f' ({SYNTHETIC_NOTE})' if synthetic else ''} "
        f"({results['n_train']} train / {results['n_test']} test rows, "
        f"{results['n_features']} features, {results['n_labels']} labels). Test-split metrics in %, mean ± std over "
        f"seeds {results['seeds']}. Hyperparameters chosen on a validation split (20% of the training split, seed "
        f"{results['seeds'][0]}) by Hamming accuracy; then, per seed, early stopping on that split fixes the number "
        f"of epochs and a fresh model is trained on the whole training split. Shared settings: "
        f"{describe(results['common'])}. Prediction: ŷ from the inner maximizer, label j predicted when "
        f"ŷ_j > 0.5.",
        "",
        "| model | Hamming acc. | example F1 | micro F1 | macro F1 | hyperparameters (chosen on validation) |",
        "|---|---|---|---|---|---|",
    ]
    for model, entry in models.items():
        cells = " | ".join(_pm(entry[metric]) for metric in METRICS)
        lines.append(f"| {model} | {cells} | {describe(entry['hyperparameters'])} |")
    lines += ["", *_targets(results), *_sklearn_rows(results.get("sklearn_br")), "", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"


def _sklearn_rows(rows: list[dict] | None) -> list[str]:
    """scikit-learn's binary relevance per C as a table (computed by :func:`sklearn_reference`)."""
    if not rows:
        return ["", "(scikit-learn not installed: no reference rows.)"]
    lines = ["", "scikit-learn `OneVsRestClassifier(LogisticRegression(C))` on the standardized features, one fit per "
             "C (deterministic), same test split:", "",
             "| C | Hamming acc. | example F1 | micro F1 | macro F1 |", "|---|---|---|---|---|"]
    lines += [f"| {row['C']} | " + " | ".join(f"{100 * row[metric]:.2f}" for metric in METRICS) + " |"
              for row in rows]
    best = max(rows, key=lambda row: row["hamming_accuracy"])
    return lines + ["", f"Its best C on the test split by Hamming accuracy: C = {best['C']} (Hamming "
                        f"{100 * best['hamming_accuracy']:.2f}, example F1 {100 * best['example_f1']:.2f} at that C)."]


def _targets(results: dict) -> list[str]:
    """How the best GFY model compares with the paper and with binary relevance, in words."""
    models = results["models"]
    gfy = {k: v for k, v in models.items() if not k.startswith("binary relevance")}
    best = max(gfy, key=lambda k: gfy[k]["hamming_accuracy"]["mean"])
    accuracy = 100 * gfy[best]["hamming_accuracy"]["mean"]
    baseline = 100 * models["binary relevance logistic regression"]["hamming_accuracy"]["mean"]
    lines = [f"Best GFY model: **{best}**, Hamming accuracy {accuracy:.2f} "
             f"({'≥' if accuracy >= baseline else '<'} binary relevance here: {baseline:.2f})."]
    if results["source"] == "synthetic":
        return lines + [f"({SYNTHETIC_NOTE}: the paper's numbers do not apply.)"]
    name = results["dataset"]
    if name in PAPER:
        lines.append(f"Paper (Blondel et al. 2022, best model): {PAPER[name]:.2f} — "
                     f"{'met' if accuracy >= PAPER[name] else 'not met'}.")
    return lines


def plot(results: dict, path: Path) -> None:
    """Grouped bars (one group per metric, one bar per model) with ± std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results["models"])
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    for i, model in enumerate(models):
        entry = results["models"][model]
        means = [100 * entry[m]["mean"] for m in METRICS]
        stds = [100 * entry[m]["std"] for m in METRICS]
        ax.bar(np.arange(len(METRICS)) + (i - (len(models) - 1) / 2) * width, means, width, yerr=stds,
               label=model, capsize=2)
    ax.set_xticks(np.arange(len(METRICS)), [m.replace("_", " ") for m in METRICS])
    ax.set_ylabel("test score (%)")
    low = min(100 * e[m]["mean"] for e in results["models"].values() for m in METRICS)
    ax.set_ylim(max(0, low - 10), 100)
    ax.set_title(f"{results['dataset']}: mean ± std over {len(results['seeds'])} seeds")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refefl.experiments.multilabel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=MULTILABEL_DATASETS, default="yeast")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default: %(default)s)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data-dir", default=None,
                      help="the data root (holding multilabel/<name>.npz) or its multilabel folder "
                           "(default: $REFEFL_DATA)")
    data.add_argument("--synthetic", action="store_true", help="use the seeded synthetic stand-in instead")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--out-dir", default=".",
                        help="where the Markdown table and the PNG go (default: the current folder)")
    parser.add_argument("--quick", action="store_true", help="one configuration per model (a smoke run)")
    parser.add_argument("--max-epochs", type=int, default=None, help="override the epoch budget")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="worker processes for the independent fits; results do not depend on it "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    command = "python -m refefl.experiments.multilabel " + " ".join(sys.argv[1:] if argv is None else argv)
    if not args.synthetic:
        try:  # before any training: a missing file is reported at once
            load_multilabel(args.dataset, args.data_dir)
        except FileNotFoundError as error:
            parser.error(f"{error} (or --synthetic for the stand-in)")
    with blas_threads(args.threads):
        results = run(args.dataset, seeds=args.seeds, data_dir=args.data_dir, synthetic=args.synthetic,
                      quick=args.quick, max_epochs=args.max_epochs, n_jobs=args.n_jobs)
    results["command"] = command
    text = markdown(results, command)
    print("\n" + text)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.dataset}.md").write_text(text, encoding="utf-8")
    try:
        plot(results, out / f"{args.dataset}.png")
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'refefl[plot]')")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {out / args.dataset}.md and .png" + (f", {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
