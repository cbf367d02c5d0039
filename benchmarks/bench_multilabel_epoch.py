"""A training epoch of the quadratic GFY model against the unary model on yeast:
``python -m benchmarks.bench_multilabel_epoch [--quick]``.

The target: an epoch of the quadratic model costs at most 3× an epoch of the unary model (the inner
maximization must not dominate). The models are the multilabel experiment's
(:mod:`refefl.experiments.multilabel`): its shared settings (Adam, batch size, validation split) and, per model,
the hyperparameters it chose on yeast (``benchmarks/results/multilabel/yeast.json``; without that file, the
quick grid's configuration). Regularizers: binary entropy and ½‖·‖² on the box. The quadratic models run with
the inner coordinate ascent compiled (``ext``) and in NumPy (``refefl.config_context(backend="numpy")``).

First it checks that the two backends agree (ŷ, losses and gradients on a minibatch of a trained quadratic model,
and the first epochs of training). Then, for each repeat, it trains every configuration in turn (interleaved, so
all see the same machine load) for ``--epochs`` epochs with early stopping off, and keeps the seconds the training
loop records for each epoch after the first ``--skip`` (A starts at 0, so early epochs understate the inner
solves). An epoch is what :func:`refefl.nn.train_minibatch` times: the minibatch steps (forward,
inner maximization, backward, Adam, projection of A) and the validation pass. Reported: median and min–max per
configuration, and the ratio of medians quadratic / unary per regularizer. Writes ``multilabel_epoch.csv`` and
``.md`` to ``--out-dir`` (default ``benchmarks/results``). BLAS is limited to one thread (set before NumPy loads
when run as a module; stamped in the Markdown).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchmarks._harness import Timing, max_abs_difference  # noqa: E402
from benchmarks._report import RESULTS, stamp, table, thread_settings, write_csv  # noqa: E402
from refefl import ConvergenceWarning, config_context  # noqa: E402
from refefl.datasets import load_multilabel  # noqa: E402
from refefl.estimators import EnergyMultilabelClassifier  # noqa: E402
from refefl.experiments.multilabel import COMMON, model_grids  # noqa: E402
from refefl.losses import GeneralizedFenchelYoungLoss  # noqa: E402
from refefl.maximizers import CoordinateAscent  # noqa: E402

CHOSEN = RESULTS / "multilabel" / "yeast.json"
TARGET = 3.0
#: regularizer -> (unary model, quadratic model), as named by the experiment
MODELS = {
    "binary_entropy": ("unary logistic (FY, binary entropy)", "quadratic GFY (binary entropy)"),
    "box_squared": ("unary sparse (FY, box ½‖·‖²)", "quadratic GFY (box ½‖·‖²)"),
}


def configurations() -> tuple[dict[str, dict], str]:
    """Model name -> estimator settings, and where the hyperparameters came from."""
    grids = model_grids(quick=True)
    chosen, origin = {}, "the experiment's quick grid (no results file)"
    if CHOSEN.is_file():
        chosen = {name: entry["hyperparameters"] for name, entry in json.loads(CHOSEN.read_text())["models"].items()}
        origin = f"chosen by the experiment on yeast ({CHOSEN.relative_to(RESULTS.parent.parent)})"
    settings = {}
    for pair in MODELS.values():
        for name in pair:
            config = dict(chosen.get(name, grids[name][1][0]))
            config["hidden_layer_sizes"] = tuple(config.get("hidden_layer_sizes", ()))
            settings[name] = {**COMMON, **config}
    return settings, origin


def backend(name: str | None) -> contextlib.AbstractContextManager:
    """Run the estimators' inner coordinate ascent in NumPy (``"numpy"``) or compiled (``"ext"``); None: the
    unary model, which has no inner solver (the configuration is left as it is)."""
    return contextlib.nullcontext() if name is None else config_context(backend=name)


def fit(settings: dict, data, epochs: int, seed: int) -> EnergyMultilabelClassifier:
    """The estimator trained for exactly ``epochs`` epochs (early stopping off), budget warnings silenced."""
    estimator = EnergyMultilabelClassifier(**{**settings, "max_epochs": epochs, "patience": epochs + 1,
                                              "refit": False, "random_state": seed})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(data.X_train, data.Y_train)


def check_backends(settings: dict[str, dict], data) -> list[str]:
    """Stop unless the NumPy and compiled inner solvers give the same ŷ, losses, gradients and training."""
    lines = []
    for regularizer, (_, quadratic) in MODELS.items():
        runs = {}
        for name in ("numpy", "ext"):
            with backend(name):
                runs[name] = fit(settings[quadratic], data, 3, seed=0)
        loss_gap = max(abs(a["train_loss"] - b["train_loss"]) for a, b in
                       zip(runs["numpy"].history_, runs["ext"].history_))
        estimator = runs["ext"]
        # the fitted model itself (private on purpose): the estimator exposes the loss and its gradient only
        # through fit, and this check compares both inner solvers on exactly the loss that training evaluates
        model, params = estimator._model, estimator.params_
        Z = (data.X_train[:64] - estimator.mean_) / estimator.scale_
        theta, _ = model.net.forward(params["net"], Z)
        results = {}
        for name in ("numpy", "ext"):
            maximizer = CoordinateAscent(max_iter=estimator.max_iter, tol=estimator.tol, backend=name)
            loss = GeneralizedFenchelYoungLoss(model.energy, model.omega, maximizer)
            energy_params = model.energy_params(params, theta)
            results[name] = (loss.predict(energy_params)[0], *loss.value_and_grad(energy_params, data.Y_train[:64]))
        (y_np, l_np, (g_np, a_np)), (y_ext, l_ext, (g_ext, a_ext)) = results["numpy"], results["ext"]
        diffs = {"ŷ": max_abs_difference(y_np, y_ext), "loss": max_abs_difference(l_np, l_ext),
                 "∇θ": max_abs_difference(g_np, g_ext), "∇A": max_abs_difference(a_np, a_ext),
                 "3-epoch train loss": loss_gap}
        worst = max(diffs.values())
        if not worst <= 1e-8:
            raise SystemExit(f"{quadratic}: the NumPy and compiled coordinate ascent disagree: {diffs}")
        lines.append(f"- {quadratic}: largest |numpy − ext| " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return lines


def measure(settings: dict[str, dict], data, *, repeats: int, epochs: int, skip: int) -> list[dict]:
    """Epoch seconds per configuration, the configurations interleaved within every repeat."""
    runs = []
    for regularizer, (unary, quadratic) in MODELS.items():
        runs += [(regularizer, "unary", unary, None), (regularizer, "quadratic", quadratic, "ext"),
                 (regularizer, "quadratic", quadratic, "numpy")]
    samples = {run: [] for run in runs}
    for repeat in range(repeats):
        for run in runs:
            with backend(run[3]):
                estimator = fit(settings[run[2]], data, epochs, seed=repeat)
            samples[run] += [record["seconds"] for record in estimator.history_[skip:]]
    rows = []
    for (regularizer, energy, name, implementation), seconds in samples.items():
        timing = Timing.of(seconds)
        rows.append({"regularizer": regularizer, "energy": energy, "model": name, "inner_solver": implementation or "—",
                     "median_ms": 1e3 * timing.median, "min_ms": 1e3 * timing.low, "max_ms": 1e3 * timing.high,
                     "epochs_timed": timing.repeats})
    unary = {r["regularizer"]: r["median_ms"] for r in rows if r["energy"] == "unary"}
    for r in rows:
        r["ratio_to_unary"] = r["median_ms"] / unary[r["regularizer"]]
    return rows


def write_markdown(path: Path, rows: list[dict], *, data, origin: str, settings: dict, checks: list[str],
                   repeats: int, epochs: int, skip: int) -> None:
    import scipy

    synthetic = " — synthetic stand-in, not yeast" if data.source == "synthetic" else ""
    lines = ["# A training epoch: quadratic GFY model vs unary model (multilabel, yeast)", "",
             stamp({"numpy": np.__version__, "scipy": scipy.__version__}),
             thread_settings("OPENBLAS_NUM_THREADS"), "",
             f"Data: `{data.source}` ({len(data.X_train)} training rows, {data.X_train.shape[1]} features, "
             f"{data.Y_train.shape[1]} labels){synthetic}. "
             f"Hyperparameters {origin}:", ""]
    for name in dict.fromkeys(r["model"] for r in rows):
        described = ", ".join(f"{k}={v}" for k, v in settings[name].items() if k not in ("max_epochs", "patience"))
        lines.append(f"- {name}: {described}")
    lines += ["", f"Each configuration trained {repeats}× (seeds 0–{repeats - 1}, configurations interleaved) for "
              f"{epochs} epochs without early stopping; epochs {skip + 1}–{epochs} timed by the training loop "
              f"(minibatch steps + validation pass).", "",
              "Agreement of the two inner solvers (checked before timing):", "", *checks, "",
              table(("regularizer", "model", "inner solver", "median", "min–max", "epochs", "× unary"),
                    ((r["regularizer"], r["model"], r["inner_solver"], f"{r['median_ms']:.1f} ms",
                      f"{r['min_ms']:.1f}–{r['max_ms']:.1f} ms", r["epochs_timed"], f"{r['ratio_to_unary']:.2f}")
                     for r in rows))]
    lines += ["", f"Target: a quadratic epoch ≤ {TARGET:g}× a unary epoch (same regularizer).", ""]
    for r in rows:
        if r["energy"] == "quadratic":
            met = "met" if r["ratio_to_unary"] <= TARGET else "missed"
            lines.append(f"- {r['regularizer']}, inner solver {r['inner_solver']}: {r['ratio_to_unary']:.2f}× ({met})")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat of 12 epochs (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="trainings per configuration (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per training (default %(default)s)")
    parser.add_argument("--skip", type=int, default=10, help="first epochs left untimed (default %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the result files go (default: %(default)s)")
    args = parser.parse_args(argv)
    repeats, epochs, skip = (1, 12, 4) if args.quick else (args.repeats, args.epochs, args.skip)
    if not 0 <= skip < epochs:
        parser.error("--skip must be in [0, --epochs)")
    data = load_multilabel("yeast")
    settings, origin = configurations()
    checks = check_backends(settings, data)
    print("\n".join(checks), flush=True)
    rows = measure(settings, data, repeats=repeats, epochs=epochs, skip=skip)
    for r in rows:
        print(f"{r['regularizer']:<15} {r['energy']:<9} {r['inner_solver']:<5} {r['median_ms']:7.1f} ms "
              f"[{r['min_ms']:.1f}–{r['max_ms']:.1f}]  {r['ratio_to_unary']:.2f}× unary", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(args.out_dir / "multilabel_epoch.csv", rows)
    write_markdown(args.out_dir / "multilabel_epoch.md", rows, data=data, origin=origin, settings=settings,
                   checks=checks, repeats=repeats, epochs=epochs, skip=skip)
    print(f"written {args.out_dir / 'multilabel_epoch.csv'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
