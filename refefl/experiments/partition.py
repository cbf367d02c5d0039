"""Energy and partition networks learned jointly (Sander, Roulet, Liu, Blondel, ICML 2025, §5).

``python -m refefl.experiments.partition --task multilabel --dataset yeast`` (yeast, scene, emotions, birds,
cal500: the Mulan train/test split) and ``--task ranking --dataset iris`` (authorship, glass, iris, vehicle,
vowel, wine: 10-fold cross-validation repeated over seeds). Protocol:

1. every model has a small hyperparameter grid; each configuration is trained with 20% of the training rows
   held out, and the configuration with the best validation metric (example-F1 or Kendall τ of the mode; ties:
   grid order) is kept. Multilabel: on the training split, seed 0; ranking: on the first fold of seed 0. The
   test rows are never looked at for the choice;
2. the chosen configuration is trained per seed (multilabel: early stopping on its 20% validation split) or per
   fold and seed (ranking: the whole training fold for the fixed budget of 300 epochs, too few rows to stop on),
   and scored on the test rows;
3. the tables give the test metric in %, mean ± std over seeds (multilabel) or over folds × seeds (ranking),
   beside the paper's number; a figure shows the learned τ(x) against the exact log-partition on unseen x for
   the min-min logistic model.

``--n-jobs N`` runs the independent fits in N processes with one BLAS thread each, in two phases: the selection
candidates of every model, then the seed (or seed × fold) fits of every model. Every fit seeds its own
generator, so the results do not depend on N. A grid of one configuration (``--quick``) has no selection fit.

``--sweep-samples`` adds, for the unary min-min logistic model, the training loss and test example-F1 against
the number of samples m ∈ {1, 10, 100, 1000} with exact MLE beside (the paper's CAL500 figure).

Data: ``--data-dir`` (the data root or the task's folder), else ``$REFEFL_DATA``; a missing file is an error.
``--synthetic`` runs on the seeded stand-in instead, and every table says so. Outputs: a Markdown table and PNG
figures in ``--out-dir``; ``--json PATH`` with, per model (named as in the paper's tables), its metric under
``example_f1`` or ``kendall_tau`` as ``{"mean": ..., "std": ...}`` in percent.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from refefl.datasets import MULTILABEL_DATASETS, load_label_ranking, load_multilabel
from refefl.estimators import (EnergyMultilabelClassifier, PartitionLabelRanker, PartitionMultilabelClassifier,
                               clone, example_f1)
from refefl.experiments._protocol import Plan, blas_threads, describe, gather, grid, jsonable, prefixed, run_plan
from refefl.partition._oracles import MAX_PAIRWISE_LABELS

RANKING_DATASETS = ("authorship", "glass", "iris", "vehicle", "vowel", "wine")
#: the paper's test numbers (F1 × 100, Kendall τ × 100), read off its figures
PAPER_MULTILABEL = {
    "yeast": {"min-min logistic": 65.04, "min-min sparsemax": 63.22, "exact MLE": 60.71, "GFY": 61.31,
              "MCMC": 60.34, "min-max": 58.58},
    "scene": {"min-min logistic": 75.35, "min-min sparsemax": 75.83, "exact MLE": 70.81, "GFY": 70.84,
              "MCMC": 71.57, "min-max": 52.54},
    "birds": {"min-min logistic": 46.48, "min-min sparsemax": 42.42, "exact MLE": 40.88, "GFY": 40.73,
              "MCMC": 33.13, "min-max": 24.95},
    "emotions": {"min-min logistic": 65.33, "min-min sparsemax": 66.86, "exact MLE": 62.99, "GFY": 61.85,
                 "MCMC": 62.23, "min-max": 60.53},
    "cal500": {"min-min logistic": 44.91, "min-min sparsemax": 46.39, "exact MLE": 36.24, "GFY": 37.35,
               "MCMC": 45.70, "min-max": 46.08},
}
PAPER_RANKING = {
    "authorship": {"min-min logistic": 88.69, "min-min sparsemax": 86.52, "MCMC": 87.90, "min-max": 70.02},
    "glass": {"min-min logistic": 84.39, "min-min sparsemax": 85.94, "MCMC": 75.50, "min-max": 67.03},
    "iris": {"min-min logistic": 97.78, "min-min sparsemax": 99.26, "MCMC": 97.04, "min-max": 55.56},
    "vehicle": {"min-min logistic": 86.27, "min-min sparsemax": 85.75, "MCMC": 86.34, "min-max": 68.56},
    "vowel": {"min-min logistic": 74.26, "min-min sparsemax": 68.34, "MCMC": 57.90, "min-max": 40.22},
    "wine": {"min-min logistic": 90.12, "min-min sparsemax": 91.36, "MCMC": 91.98, "min-max": 70.99},
}
SYNTHETIC_NOTE = "synthetic stand-in; set REFEFL_DATA for the papers' data"
#: shared by every model: Adam, minibatches of 64, early stopping on 20% of the training rows
COMMON = {"batch_size": 64, "max_epochs": 100, "patience": 10, "validation_fraction": 0.2, "n_samples": 100}
#: ranking: minibatches of 16 and a fixed budget of 300 epochs. Selection fits score the validation split (the
#: best of the 300 epochs); the final fits train on the whole training fold for 300 epochs: with 100-800 rows, a
#: 20% split is too small to stop on (iris: Kendall tau 77 with early stopping, 98 without, measured)
RANKING_COMMON = {"batch_size": 16, "max_epochs": 300, "patience": 300, "validation_fraction": 0.2,
                  "n_samples": 10}
_RANKING_NETS = ({"hidden_layer_sizes": (64, 64)}, {"hidden_layer_sizes": (256,)})
_DECAYS = (1e-4, 1e-3)
#: Adam steps: pairwise U(x) with the KL divergence diverges at 1e-2 on scene (test F1 34; 74 at 1e-3, measured)
_RATES = (1e-2, 1e-3)
_NETS = ({"hidden_layer_sizes": ()}, {"hidden_layer_sizes": (256,)})
SAMPLE_SWEEP = (1, 10, 100, 1000)


#: the baselines of the paper's tables on the min-min models' grid (same networks, optimizer and budget):
#: NCE (the target among m noise samples), MCMC maximum likelihood (persistent chains) and min-max (a REINFORCE
#: sampler); none of them uses an exact oracle
BASELINES = {"NCE": "nce", "MCMC": "mcmc", "min-max": "min_max"}


def multilabel_models(quick: bool = False) -> dict[str, tuple[type, list[dict]]]:
    """Model name (as in the paper's tables) -> (estimator class, grid)."""
    nets, decays, rates = (_NETS[:1], _DECAYS[:1], _RATES[:1]) if quick else (_NETS, _DECAYS, _RATES)
    energies = ("unary",) if quick else ("unary", "pairwise")
    minmin = {"objective": "min_min"}
    axes = dict(network=nets, weight_decay=decays, learning_rate=rates)
    return {
        "min-min logistic": (PartitionMultilabelClassifier, grid({**minmin, "divergence": "kl"}, energy=energies,
                                                                 **axes)),
        "min-min sparsemax": (PartitionMultilabelClassifier, grid({**minmin, "divergence": "sparsemax"},
                                                                  energy=energies, **axes)),
        "exact MLE": (PartitionMultilabelClassifier, grid({"objective": "exact_mle", "energy": "unary"}, **axes)),
        "log-mean-exp": (PartitionMultilabelClassifier, grid({"objective": "log_mean_exp", "energy": "unary"},
                                                             **axes)),
        "GFY": (EnergyMultilabelClassifier, grid({"energy": "quadratic", "regularizer": "binary_entropy",
                                                  "monitor": "hamming"}, **axes)),
        **{name: (PartitionMultilabelClassifier, grid({"objective": objective}, energy=energies, **axes))
           for name, objective in BASELINES.items()},
    }


def ranking_models(quick: bool = False) -> dict[str, tuple[type, list[dict]]]:
    """Model name (as in the paper's tables) -> (estimator class, grid). The Adam step is an axis: min-min
    logistic diverged or stalled at 1e-2 on some folds (vehicle 62 ± 26, authorship 79 ± 13 without it)."""
    quick_axes = (_RANKING_NETS[:1], _DECAYS[:1], _RATES[:1], ("permutahedron",))
    nets, decays, rates, energies = quick_axes if quick else (_RANKING_NETS, _DECAYS, _RATES,
                                                              ("permutahedron", "birkhoff"))
    axes = dict(energy=energies, network=nets, weight_decay=decays, learning_rate=rates)
    return {
        "min-min logistic": (PartitionLabelRanker, grid({"objective": "min_min", "divergence": "kl"}, **axes)),
        "min-min sparsemax": (PartitionLabelRanker, grid({"objective": "min_min", "divergence": "sparsemax"},
                                                         **axes)),
        "exact MLE": (PartitionLabelRanker, grid({"objective": "exact_mle"}, **axes)),
        **{name: (PartitionLabelRanker, grid({"objective": objective}, **axes))
           for name, objective in BASELINES.items()},
    }


# -- fitting and scoring -------------------------------------------------------------------------------------
def _settings(cls: type, config: dict, overrides: dict) -> dict:
    """The shared settings (COMMON, or RANKING_COMMON for a ranker), the configuration and the overrides,
    restricted to what ``cls`` takes."""
    names = set(cls._param_names())
    common = RANKING_COMMON if cls is PartitionLabelRanker else COMMON
    return {k: v for k, v in {**common, **config, **overrides}.items() if k in names}


def _validation_score(estimator) -> float:
    """The validation metric of the chosen epoch (example-F1 / Kendall τ; Hamming accuracy for GFY)."""
    return float(estimator.best_validation_score_)


def _test_score(estimator, X, Y) -> float:
    if isinstance(estimator, EnergyMultilabelClassifier):
        return example_f1(Y, estimator.predict(X))
    return estimator.score(X, Y)


def selection(cls: type, configs: list[dict], X, Y, seed: int, overrides: dict, title: str, log) -> Plan:
    """Plan (:mod:`refefl.experiments._protocol`): the configuration with the best validation metric on (X, Y)
    (its own 20% split; ties: grid order) and every candidate with its score.

    One unit per candidate (:func:`_validate_unit`); ``title`` and the candidates are logged in grid order once
    they are scored. A grid of one configuration is kept without a fit (its validation score is None): there is
    nothing to choose. Returns ``(config, candidates, seconds)``, the seconds summed over the candidates' fits."""
    if len(configs) == 1:
        log(f"{title}: one configuration, kept without a selection fit: {describe(configs[0])}")
        return configs[0], [{"config": jsonable(configs[0]), "validation": None}], 0.0
    outcomes = yield [(_validate_unit, cls, _settings(cls, config, overrides), seed, X, Y) for config in configs]
    log(f"{title}: selecting among {len(configs)} configurations")
    scored = []
    for index, (config, outcome) in enumerate(zip(configs, outcomes)):
        score = outcome["score"]
        scored.append(((np.inf if score is None else -score, index), config, score))
        log(f"    {describe(config)}: " + (f"diverged ({outcome['error']})" if score is None else
                                            f"validation {100 * score:.2f} (epoch {outcome['epoch']})"))
    best = min(scored, key=lambda item: item[0])
    return (best[1], [{"config": jsonable(c), "validation": v} for _, c, v in scored],
            sum(outcome["seconds"] for outcome in outcomes))


def _validate_unit(cls: type, settings: dict, seed: int, X, Y) -> dict:
    """One selection candidate: ``{"score": validation metric, "epoch": best epoch, "seconds"}``, or score None and
    the error when training diverged (a diverging configuration is a candidate that lost)."""
    start = time.perf_counter()
    try:
        estimator = cls(**settings, random_state=seed).fit(X, Y)
    except FloatingPointError as error:
        return {"score": None, "error": str(error), "seconds": time.perf_counter() - start}
    return {"score": _validation_score(estimator), "epoch": estimator.best_epoch_,
            "seconds": time.perf_counter() - start}


def _test_unit(cls: type, settings: dict, seed: int, X, Y, X_test, Y_test) -> dict:
    """One final fit on (X, Y) scored on the test rows: ``{"score", "epochs", "gap", "seconds"}`` (:func:`_tau_gap`
    on the test rows; score None and the error when the training diverged)."""
    start = time.perf_counter()
    try:
        fitted = cls(**settings, random_state=seed).fit(X, Y)
    except FloatingPointError as error:
        return {"score": None, "error": str(error), "gap": None, "seconds": time.perf_counter() - start}
    return {"score": _test_score(fitted, X_test, Y_test), "epochs": len(fitted.history_),
            "gap": _tau_gap(fitted, X_test), "seconds": time.perf_counter() - start}


def final_fits(cls: type, settings: dict, splits: list[tuple], labels: list[str], metric: str, title: str,
               log) -> Plan:
    """Plan: the chosen configuration fitted on each split ``(seed, X, Y, X_test, Y_test)`` and scored on its test
    rows, one unit per split (:func:`_test_unit`), logged in order under ``title``. Returns the outcomes."""
    outcomes = yield [(_test_unit, cls, settings, *split) for split in splits]
    log(title)
    for label, outcome in zip(labels, outcomes):
        log(f"  {label}: diverged ({outcome['error']})" if outcome["score"] is None else
            f"  {label}: test {metric} {100 * outcome['score']:.2f} ({outcome['epochs']} epochs)")
    return outcomes


def _model_entry(key: str, per: str, config: dict, candidates: list, selection_seconds: float,
                 outcomes: list[dict]) -> dict:
    """A model's results: the metric's summary, the per-split scores, the chosen hyperparameters, the candidates,
    the τ gap of the first final fit that trained, and the seconds of all its fits (summed over units)."""
    scores = [outcome["score"] for outcome in outcomes]
    gap = next((outcome["gap"] for outcome in outcomes if outcome["gap"] is not None), None)
    seconds = selection_seconds + sum(outcome["seconds"] for outcome in outcomes)
    return {key: _summary(scores), per: scores, "hyperparameters": jsonable(config), "candidates": candidates,
            "tau_gap": gap, "seconds": round(seconds, 1)}


def _summary(values: list[float | None]) -> dict:
    """Mean and std in % of the fits that trained (None: a fit that diverged, counted apart)."""
    trained = [v for v in values if v is not None]
    mean, std = (float(100 * np.mean(trained)), float(100 * np.std(trained))) if trained else (np.nan, np.nan)
    return {"mean": mean, "std": std, "diverged": len(values) - len(trained)}


def _tau_gap(estimator, X) -> dict | None:
    """|τ(x) − exact log-partition| on X for a min-min KL model: median (nats) and the pairs, else None."""
    if not isinstance(estimator, (PartitionMultilabelClassifier, PartitionLabelRanker)):
        return None
    if estimator.objective != "min_min" or estimator.divergence != "kl":
        return None
    if estimator.energy == "pairwise" and estimator.n_outputs_ > MAX_PAIRWISE_LABELS:
        return None  # no exact log-partition to compare with (2^k states)
    tau, exact = estimator.predict_log_partition(X), estimator.exact_log_partition(X)
    return {"median_abs_nats": float(np.median(np.abs(tau - exact))), "tau": tau.tolist(), "exact": exact.tolist()}


def multilabel_plan(dataset: str, *, seeds: int = 3, data_dir=None, synthetic: bool = False, quick: bool = False,
                    max_epochs: int | None = None, sweep_samples: bool = False, log=print) -> Plan:
    """Plan of the multilabel comparison on ``dataset`` (see the module docstring); returns the results.

    Two phases of independent units: every model's selection candidates; then every model's seeds, the unary
    τ-gap fit and the sample sweep. :func:`run_multilabel` runs it; :func:`~refefl.experiments._protocol.gather`
    runs it beside other data sets."""
    data = load_multilabel(dataset, data_dir, synthetic=synthetic)
    log = prefixed(log, dataset)
    overrides = {} if max_epochs is None else {"max_epochs": max_epochs}
    results = _header("multilabel", dataset, data.source, seeds, quick, overrides, n_train=len(data.X_train),
                      n_test=len(data.X_test), n_features=data.X_train.shape[1], n_labels=data.Y_train.shape[1])
    models = multilabel_models(quick)
    chosen = yield from gather([selection(cls, configs, data.X_train, data.Y_train, 0, overrides,
                                          f"{name} (validation split, seed 0)", log)
                                for name, (cls, configs) in models.items()])
    splits = [(seed, data.X_train, data.Y_train, data.X_test, data.Y_test) for seed in range(seeds)]
    labels = [f"seed {seed}" for seed in range(seeds)]
    plans = [final_fits(cls, _settings(cls, config, overrides), splits, labels, "example-F1", f"{name}: test fits",
                     log) for (name, (cls, _)), (config, _, _) in zip(models.items(), chosen)]
    minmin_config, minmin_candidates, _ = chosen[list(models).index("min-min logistic")]
    unary = _best_unary(minmin_candidates, minmin_config)
    if unary is not minmin_config:  # otherwise its seed-0 fit is the min-min logistic model's first test fit
        plans.append(final_fits(PartitionMultilabelClassifier, _settings(PartitionMultilabelClassifier, unary,
                                                                         overrides),
                                splits[:1], labels[:1], "example-F1", "unary min-min logistic (τ gap)", log))
    if sweep_samples:
        plans.append(sample_sweep(data, minmin_config, overrides, log))
    outcomes = yield from gather(plans)
    for (name, _), (config, candidates, seconds), fits in zip(models.items(), chosen, outcomes):
        results["models"][name] = _model_entry("example_f1", "per_seed", config, candidates, seconds, fits)
    unary_fit = outcomes[len(models)][0] if unary is not minmin_config else outcomes[0][0]
    results["unary_tau_gap"] = (None if unary_fit["gap"] is None else
                                {**unary_fit["gap"], "hyperparameters": jsonable(unary)})
    log("unary min-min logistic: " + ("diverged, no tau gap" if unary_fit["gap"] is None else
                                      f"median |tau - log Z| on the test rows "
                                      f"{results['unary_tau_gap']['median_abs_nats']:.3f} nats"))
    if sweep_samples:
        results["sample_sweep"] = outcomes[-1]
    return results


def _best_unary(candidates: list[dict], chosen: dict) -> dict:
    """The unary configuration of the min-min logistic candidates with the best validation metric (first in grid
    order on ties; a candidate without a score ranks last), as the configuration object ``chosen`` when equal."""
    unary = max((c for c in candidates if c["config"]["energy"] == "unary"),
                key=lambda c: -np.inf if c["validation"] is None else c["validation"])
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in unary["config"].items()}
    return chosen if config == chosen else config


def run_multilabel(dataset: str, *, seeds: int = 3, data_dir=None, synthetic: bool = False, quick: bool = False,
                   max_epochs: int | None = None, sweep_samples: bool = False, n_jobs: int = 1, log=print) -> dict:
    """Run the multilabel comparison on ``dataset`` (:func:`multilabel_plan`) with its units on ``n_jobs``
    processes (:func:`refefl.experiments._protocol.run_units`): the results are the same for every ``n_jobs``."""
    return run_plan(multilabel_plan(dataset, seeds=seeds, data_dir=data_dir, synthetic=synthetic, quick=quick,
                                    max_epochs=max_epochs, sweep_samples=sweep_samples, log=log),
                    n_jobs=n_jobs, desc=f"partition {dataset}")


def sample_sweep(data, config: dict, overrides: dict, log) -> Plan:
    """Plan: training loss (exact NLL of the trained energy) and test example-F1 of the unary min-min logistic model
    against m, beside exact MLE, with the same configuration otherwise (seed 0; one unit per m)."""
    unary = {**config, "energy": "unary"}
    rows = yield [(_sweep_unit, _settings(PartitionMultilabelClassifier,
                                          {**unary, "objective": "exact_mle"} if m is None else
                                          {**unary, "n_samples": m}, overrides),
                   m, data.X_train, data.Y_train, data.X_test, data.Y_test) for m in (*SAMPLE_SWEEP, None)]
    for row in rows:
        log(f"  m = {'exact MLE' if row['m'] is None else row['m']}: train NLL {row['train_nll']:.4f}, "
            f"test example-F1 {row['test_example_f1']:.2f}")
    return rows


def _sweep_unit(settings: dict, m: int | None, X, Y, X_test, Y_test) -> dict:
    model = PartitionMultilabelClassifier(**settings, random_state=0).fit(X, Y)
    Z = (X - model.mean_) / model.scale_
    nll = model._net.energy.nll(model._net.energy_params(model.params_, Z)[0], Y.astype(np.int8))
    return {"m": m, "train_nll": float(nll.mean()), "test_example_f1": 100 * model.score(X_test, Y_test)}


def ranking_plan(dataset: str, *, seeds: int = 3, folds: int = 10, data_dir=None, synthetic: bool = False,
                 quick: bool = False, max_epochs: int | None = None, log=print) -> Plan:
    """Plan of the label-ranking comparison on ``dataset`` (``folds``-fold cross-validation per seed); returns the
    results. Two phases of independent units: every model's selection candidates (fold 1 of seed 0), then every
    model's seed × fold fits."""
    data = load_label_ranking(dataset, data_dir, synthetic=synthetic)
    log = prefixed(log, dataset)
    overrides = {} if max_epochs is None else {"max_epochs": max_epochs, "patience": max_epochs}
    final = {**overrides, "validation_fraction": 0.0}  # the whole training fold, the fixed budget
    results = _header("ranking", dataset, data.source, seeds, quick, overrides, n=len(data.X),
                      n_features=data.X.shape[1], n_labels=data.Y.shape[1], folds=folds)
    first_train, _ = next(data.folds(folds, 0))
    splits, labels = [], []
    for seed in range(seeds):
        for fold, (train, test) in enumerate(data.folds(folds, seed)):
            splits.append((seed, data.X[train], data.Y[train], data.X[test], data.Y[test]))
            labels.append(f"seed {seed} fold {fold + 1}/{folds}")
    models = ranking_models(quick)
    chosen = yield from gather([selection(cls, configs, data.X[first_train], data.Y[first_train], 0, overrides,
                                          f"{name} (fold 1 of seed 0)", log)
                                for name, (cls, configs) in models.items()])
    outcomes = yield from gather([final_fits(cls, _settings(cls, config, final), splits, labels, "Kendall tau",
                                             f"{name}: test fits", log)
                                  for (name, (cls, _)), (config, _, _) in zip(models.items(), chosen)])
    for (name, _), (config, candidates, seconds), fits in zip(models.items(), chosen, outcomes):
        results["models"][name] = _model_entry("kendall_tau", "per_fold", config, candidates, seconds, fits)
    return results


def run_ranking(dataset: str, *, seeds: int = 3, folds: int = 10, data_dir=None, synthetic: bool = False,
                quick: bool = False, max_epochs: int | None = None, n_jobs: int = 1, log=print) -> dict:
    """Run the label-ranking comparison on ``dataset`` (:func:`ranking_plan`) with its units on ``n_jobs``
    processes (:func:`refefl.experiments._protocol.run_units`): the results are the same for every ``n_jobs``."""
    return run_plan(ranking_plan(dataset, seeds=seeds, folds=folds, data_dir=data_dir, synthetic=synthetic,
                                 quick=quick, max_epochs=max_epochs, log=log),
                    n_jobs=n_jobs, desc=f"partition {dataset}")


def _header(task, dataset, source, seeds, quick, overrides, **sizes) -> dict:
    common = COMMON if task == "multilabel" else RANKING_COMMON
    return {"task": task, "dataset": dataset, "source": source, "seeds": list(range(seeds)), "quick": quick,
            "common": jsonable({**common, **overrides}), **{k: int(v) for k, v in sizes.items()}, "models": {}}


# -- reports -------------------------------------------------------------------------------------------------
def _metric_key(results: dict) -> str:
    return "example_f1" if results["task"] == "multilabel" else "kendall_tau"


def _paper(results: dict) -> dict:
    table = PAPER_MULTILABEL if results["task"] == "multilabel" else PAPER_RANKING
    return {} if results["source"] == "synthetic" else table.get(results["dataset"], {})


def markdown(results: dict, command: str) -> str:
    """The results as a Markdown section: setup, table with the paper's numbers, the τ gap, the m sweep."""
    key, paper, synthetic = _metric_key(results), _paper(results), results["source"] == "synthetic"
    metric = "example-F1" if key == "example_f1" else "Kendall τ"
    if results["task"] == "multilabel":
        setup = (f"{results['n_train']} train / {results['n_test']} test rows, {results['n_features']} features, "
                 f"{results['n_labels']} labels; mean ± std over seeds {results['seeds']}")
    else:
        setup = (f"{results['n']} rows, {results['n_features']} features, {results['n_labels']} labels; "
                 f"{results['folds']}-fold cross-validation, mean ± std over folds × seeds {results['seeds']}")
    lines = [f"## Partition networks, {results['task']}: {results['dataset']}"
             + (f" ({SYNTHETIC_NOTE})" if synthetic else ""), "",
             f"Data: `{results['source']}` ({setup}). Test {metric} in %. Hyperparameters chosen on a validation "
             f"split (see `python -m refefl.experiments.partition --help`)"
             f"{' among one configuration per model (--quick)' if results['quick'] else ''}; shared settings: "
             f"{describe(results['common'])}.", "",
             f"| model | test {metric} | paper | difference | hyperparameters (chosen on validation) |",
             "|---|---|---|---|---|"]
    for name, entry in results["models"].items():
        stat = entry[key]
        ours = f"{stat['mean']:.2f} ± {stat['std']:.2f}"
        if stat.get("diverged"):
            ours += f" (diverged in {stat['diverged']} of {stat['diverged'] + len(_trained(entry))} fits)"
        theirs = paper.get(name)
        diff = "" if theirs is None else f"{stat['mean'] - theirs:+.2f}"
        lines.append(f"| {name} | {ours} | {'' if theirs is None else f'{theirs:.2f}'} | {diff} | "
                     f"{describe(entry['hyperparameters'])} |")
    lines += ["", *_targets(results)]
    gap = results["models"].get("min-min logistic", {}).get("tau_gap")
    if gap:
        lines += ["", f"Learned τ(x) against the exact log-partition on unseen x (min-min logistic): median "
                      f"|τ − log Z| = {gap['median_abs_nats']:.3f} nats."]
    unary = results.get("unary_tau_gap")
    if unary:
        lines += [f"Unary min-min logistic ({describe(unary['hyperparameters'])}): median |τ − log Z| = "
                  f"{unary['median_abs_nats']:.3f} nats on unseen x (target ≤ 0.1: "
                  f"{'met' if unary['median_abs_nats'] <= 0.1 else 'not met'})."]
    if results.get("sample_sweep"):
        lines += ["", "Unary min-min logistic against the number of samples m (seed 0):", "",
                  "| m | train exact NLL | test example-F1 |", "|---|---|---|"]
        lines += [f"| {'exact MLE' if row['m'] is None else row['m']} | {row['train_nll']:.4f} | "
                  f"{row['test_example_f1']:.2f} |" for row in results["sample_sweep"]]
    return "\n".join(lines + ["", f"Command: `{command}`"]) + "\n"


def _trained(entry: dict) -> list[float]:
    return [v for v in entry.get("per_seed", entry.get("per_fold", [])) if v is not None]


def _targets(results: dict) -> list[str]:
    """The best min-min model against the paper's best min-min number and this run's baselines, in words."""
    key, paper = _metric_key(results), _paper(results)
    models = results["models"]
    minmin = {name: entry[key]["mean"] for name, entry in models.items() if name.startswith("min-min")}
    best = max(minmin, key=minmin.get)
    lines = [f"Best min-min model: **{best}** ({minmin[best]:.2f})."]
    for baseline in ("exact MLE", "GFY"):
        if baseline in models:
            value = models[baseline][key]["mean"]
            lines.append(f"{'≥' if minmin[best] >= value else '<'} {baseline} here ({value:.2f}).")
    paper_best = max((v for name, v in paper.items() if name.startswith("min-min")), default=None)
    if paper_best is None:
        return lines + ([f"({SYNTHETIC_NOTE}: the paper's numbers do not apply.)"]
                        if results["source"] == "synthetic" else [])
    met = "met" if minmin[best] >= paper_best else "not met"
    return lines + [f"Paper's best min-min: {paper_best:.2f} — {met} ({minmin[best] - paper_best:+.2f})."]


def plot_tau(results: dict, path: Path) -> bool:
    """Scatter of τ(x) against the exact log-partition on unseen x: of the min-min logistic model, else (its
    chosen energy has no exact log-partition, e.g. pairwise on CAL500) of the unary min-min logistic model; False
    when there is nothing to plot."""
    gap = results["models"].get("min-min logistic", {}).get("tau_gap")
    model = "min-min logistic"
    if not gap:
        gap, model = results.get("unary_tau_gap"), "unary min-min logistic"
    if not gap:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exact, tau = np.asarray(gap["exact"]), np.asarray(gap["tau"])
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.scatter(exact, tau, s=6, alpha=0.5)
    low, high = min(exact.min(), tau.min()), max(exact.max(), tau.max())
    ax.plot([low, high], [low, high], "k--", lw=0.8)
    ax.set_xlabel("exact log-partition log E_q exp g(x, ·)")
    ax.set_ylabel("learned τ(x)")
    ax.set_title(f"{results['dataset']}, {model}\nmedian |τ − log Z| = {gap['median_abs_nats']:.3f} nats",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_sweep(results: dict, path: Path) -> bool:
    rows = results.get("sample_sweep")
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sampled = [row for row in rows if row["m"] is not None]
    exact = next(row for row in rows if row["m"] is None)
    ms = [row["m"] for row in sampled]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for ax, key, label in ((axes[0], "train_nll", "train exact NLL"), (axes[1], "test_example_f1",
                                                                        "test example-F1 (%)")):
        ax.semilogx(ms, [row[key] for row in sampled], "o-", label="min-min logistic")
        ax.axhline(exact[key], color="k", ls="--", lw=0.8, label="exact MLE")
        ax.set_xlabel("samples per example m")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle(f"{results['dataset']}: min-min against m", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refefl.experiments.partition", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=("multilabel", "ranking"), default="multilabel")
    parser.add_argument("--dataset", default=None,
                        help=f"multilabel: {', '.join(MULTILABEL_DATASETS)} (default yeast); ranking: "
                             f"{', '.join(RANKING_DATASETS)} (default iris)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (default: %(default)s)")
    parser.add_argument("--folds", type=int, default=10, help="ranking: cross-validation folds (default: 10)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data-dir", default=None, help="the data root or the task's folder (default: $REFEFL_DATA)")
    data.add_argument("--synthetic", action="store_true", help="use the seeded synthetic stand-in instead")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON to PATH")
    parser.add_argument("--out-dir", default=".", help="where the Markdown and PNGs go (default: .)")
    parser.add_argument("--quick", action="store_true", help="one configuration per model (a smoke run)")
    parser.add_argument("--max-epochs", type=int, default=None, help="override the epoch budget")
    parser.add_argument("--sweep-samples", action="store_true",
                        help="multilabel: also train the unary min-min model for m in 1, 10, 100, 1000")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="processes for the independent fits (selection candidates, seeds, folds), one BLAS "
                             "thread each; -1: every core; the results do not depend on it (default: %(default)s)")
    args = parser.parse_args(argv)
    choices = MULTILABEL_DATASETS if args.task == "multilabel" else RANKING_DATASETS
    dataset = args.dataset or ("yeast" if args.task == "multilabel" else "iris")
    if dataset not in choices:
        parser.error(f"--dataset {dataset!r} is not a {args.task} data set; expected one of {choices}")
    if args.seeds < 1 or args.folds < 2:
        parser.error("--seeds must be at least 1 and --folds at least 2")
    if args.n_jobs == 0 or args.n_jobs < -1:
        parser.error(f"--n-jobs must be a positive number of processes or -1, got {args.n_jobs}")
    if args.sweep_samples and args.task != "multilabel":
        parser.error("--sweep-samples is for --task multilabel")
    loader = load_multilabel if args.task == "multilabel" else load_label_ranking
    if not args.synthetic:
        try:  # before any training: a missing file is reported at once
            loader(dataset, args.data_dir)
        except FileNotFoundError as error:
            parser.error(f"{error} (or --synthetic for the stand-in)")
    command = "python -m refefl.experiments.partition " + " ".join(sys.argv[1:] if argv is None else argv)
    options = dict(seeds=args.seeds, data_dir=args.data_dir, synthetic=args.synthetic, quick=args.quick,
                   max_epochs=args.max_epochs, n_jobs=args.n_jobs)
    with blas_threads(args.threads):
        if args.task == "multilabel":
            results = run_multilabel(dataset, sweep_samples=args.sweep_samples, **options)
        else:
            results = run_ranking(dataset, folds=args.folds, **options)
    results["command"] = command
    text = markdown(results, command)
    print("\n" + text)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.task}_{dataset}"
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    try:
        plot_tau(results, out / f"{stem}_tau.png")
        plot_sweep(results, out / f"{stem}_samples.png")
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'refefl[plot]')")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {out / stem}.md" + (f" and {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
