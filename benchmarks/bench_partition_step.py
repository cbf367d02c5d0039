"""A min-min training step against an exact-MLE step of the unary partition model on yeast:
``python -m benchmarks.bench_partition_step [--quick]``.

The target: one min-min training step with m = 100 sampled label sets per example costs at most 3× one exact-MLE
step (the sampling must not dominate). The model is the partition experiment's unary model
(:mod:`refefl.experiments.partition`): its minibatch of 64 and the hyperparameters it chose on yeast for the unary
min-min logistic model (``benchmarks/results/partition/multilabel_yeast.json``; without that file, the quick grid's
configuration): the same energy network f_W (u(x) ∈ R^k) and partition network τ_V for both objectives.

Two measurements, both side by side in one run:

1. **step**: one minibatch step as the training loop takes it: the objective's value and gradient through both
   networks (:class:`refefl.partition.PartitionNetworks`) and the Adam update of every parameter. The min-min
   step samples m uniform label sets per row; the exact-MLE step is what ``objective="exact_mle"`` runs (the
   closed-form NLL of the energy plus the regression of τ on the exact log-partition), and, as a stricter
   denominator, the energy's NLL alone. The three steps are interleaved within every repeat (medians, min–max);
   each call takes the next minibatch of a shuffled epoch of the standardized training rows.
2. **epoch**: the estimators themselves (:class:`refefl.estimators.PartitionMultilabelClassifier`, no validation
   split) trained in turn for ``--epochs`` epochs per repeat; the seconds the training loop records per epoch,
   divided by the number of minibatches, give a step with everything the loop adds (batch indexing, weight decay).

Writes ``partition_step.csv`` and ``.md`` to ``--out-dir`` (default ``benchmarks/results``). BLAS is limited to
one thread (set before NumPy loads when run as a module; stamped in the Markdown).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchmarks._harness import Timing, time_interleaved  # noqa: E402
from benchmarks._report import RESULTS, stamp, table, thread_settings, write_csv  # noqa: E402
from refefl.datasets import load_multilabel  # noqa: E402
from refefl.estimators import PartitionMultilabelClassifier  # noqa: E402
from refefl.experiments.partition import COMMON, multilabel_models  # noqa: E402
from refefl.nn import Adam, tree_map  # noqa: E402
from refefl.partition import PartitionNetworks  # noqa: E402

CHOSEN = RESULTS / "partition" / "multilabel_yeast.json"
TARGET = 3.0
N_SAMPLES = 100
MIN_MIN, EXACT, EXACT_ENERGY = "min-min (KL, m = 100)", "exact MLE (NLL + τ regression)", "exact MLE (energy NLL only)"


def configuration() -> tuple[dict, str]:
    """The unary min-min logistic settings and where they came from."""
    if CHOSEN.is_file():
        config = json.loads(CHOSEN.read_text())["unary_tau_gap"]["hyperparameters"]
        origin = f"chosen by the experiment on yeast ({CHOSEN.relative_to(RESULTS.parent.parent)})"
    else:
        config = multilabel_models(quick=True)["min-min logistic"][1][0]
        origin = "the experiment's quick grid (no results file)"
    settings = {**COMMON, **config, "energy": "unary", "n_samples": N_SAMPLES}
    settings["hidden_layer_sizes"] = tuple(settings.get("hidden_layer_sizes", ()))
    return settings, origin


class Steps:
    """The three training steps on one set of networks and parameters, each drawing the next minibatch."""

    def __init__(self, settings: dict, X: np.ndarray, Y: np.ndarray, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.Z, self.Y = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0), Y.astype(np.int8)
        self.net = PartitionNetworks(X.shape[1], Y.shape[1], "unary", hidden=settings["hidden_layer_sizes"],
                                     tau_hidden=PartitionMultilabelClassifier().tau_hidden_layer_sizes)
        # realistic values: the networks after a few epochs of exact MLE (τ near the exact log-partition)
        self.params = PartitionMultilabelClassifier(**{**settings, "objective": "exact_mle", "max_epochs": 5,
                                                       "validation_fraction": 0.0, "random_state": seed}
                                                    ).fit(X, Y).params_
        self.optimizer = Adam(settings["learning_rate"])
        self.state = self.optimizer.init(self.params)
        self.rng, self.batch_size, self.order, self.next = rng, settings["batch_size"], np.empty(0, int), 0

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        if self.next >= len(self.order):
            self.order, self.next = self.rng.permutation(len(self.Z)), 0
        rows = self.order[self.next:self.next + self.batch_size]
        self.next += self.batch_size
        return self.Z[rows], self.Y[rows]

    def _update(self, loss: float, grads: dict) -> float:
        # the benchmark keeps its parameters: the Adam update is computed (and timed) but not kept, so every
        # repeat times the same parameter values
        self.optimizer.step(self.params, grads, self.state)
        return loss

    def min_min(self) -> float:
        Z, Y = self._batch()
        return self._update(*self.net.min_min(self.params, Z, Y, rng=self.rng, n_samples=N_SAMPLES, divergence="kl"))

    def exact(self) -> float:
        Z, Y = self._batch()
        loss, grads = self.net.exact_nll(self.params, Z, Y)
        tau_grads = self.net.log_partition_regression(self.params, Z)[1]
        return self._update(loss, tree_map(lambda a, b: a + b, grads, tau_grads))

    def exact_energy(self) -> float:
        Z, Y = self._batch()
        return self._update(*self.net.exact_nll(self.params, Z, Y))


def check_steps(steps: Steps) -> list[str]:
    """Stop unless the steps are what they claim: finite losses, gradients of every parameter's shape, and the
    min-min loss an upper bound of the exact NLL on a batch (its expectation is, for any τ: docs/partition.md)."""
    Z, Y = steps.Z[:256], steps.Y[:256]
    rng = np.random.default_rng(1)
    exact, _ = steps.net.exact_nll(steps.params, Z, Y)
    estimates = [steps.net.min_min(steps.params, Z, Y, rng=rng, n_samples=2000, divergence="kl")[0]
                 for _ in range(5)]
    mean, se = float(np.mean(estimates)), float(np.std(estimates, ddof=1) / np.sqrt(len(estimates)))
    if not (np.isfinite(exact) and mean + 4 * se >= exact):
        raise SystemExit(f"partition_step: min-min estimate {mean:.4f} ± {se:.1e} below the exact NLL {exact:.4f}")
    for name, step in ((MIN_MIN, steps.min_min), (EXACT, steps.exact), (EXACT_ENERGY, steps.exact_energy)):
        if not np.isfinite(step()):
            raise SystemExit(f"partition_step: {name} gave a non-finite loss")
    return [f"- exact NLL on 256 rows {exact:.4f}; min-min (m = 2000, 5 draws) {mean:.4f} ± {se:.1e} "
            "(an upper bound in expectation: checked)"]


def measure_steps(steps: Steps, repeats: int) -> dict[str, Timing]:
    return time_interleaved({MIN_MIN: steps.min_min, EXACT: steps.exact, EXACT_ENERGY: steps.exact_energy},
                            repeats)


def measure_epochs(settings: dict, data, *, repeats: int, epochs: int) -> dict[str, Timing]:
    """Per-step seconds of the estimators' training loops (epoch seconds / minibatches), interleaved."""
    fits = {MIN_MIN: {"objective": "min_min", "divergence": "kl"}, EXACT: {"objective": "exact_mle"}}
    n_batches = -(-len(data.X_train) // settings["batch_size"])
    samples = {name: [] for name in fits}
    for repeat in range(repeats):
        for name, objective in fits.items():
            estimator = PartitionMultilabelClassifier(**{**settings, **objective, "validation_fraction": 0.0,
                                                         "max_epochs": epochs, "random_state": repeat})
            estimator.fit(data.X_train, data.Y_train)
            samples[name] += [record["seconds"] / n_batches for record in estimator.history_[1:]]
    return {name: Timing.of(seconds) for name, seconds in samples.items()}


def rows_of(kind: str, timings: dict[str, Timing]) -> list[dict]:
    exact = timings[EXACT].median
    return [{"measurement": kind, "step": name, "median_ms": 1e3 * t.median, "min_ms": 1e3 * t.low,
             "max_ms": 1e3 * t.high, "samples": t.repeats, "ratio_to_exact_mle": t.median / exact}
            for name, t in timings.items()]


def write_markdown(path: Path, rows: list[dict], *, data, origin: str, settings: dict, checks: list[str],
                   repeats: int, epochs: int) -> None:
    import scipy

    synthetic = " — synthetic stand-in, not yeast" if data.source == "synthetic" else ""
    described = ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("max_epochs", "patience"))
    step = {(r["measurement"], r["step"]): r for r in rows}
    lines = ["# A min-min training step vs an exact-MLE step (unary partition model, yeast)", "",
             stamp({"numpy": np.__version__, "scipy": scipy.__version__}), thread_settings("OPENBLAS_NUM_THREADS"),
             f"Machine load (1-minute average) at the start: {os.getloadavg()[0]:.2f}.", "",
             f"Data: `{data.source}` ({len(data.X_train)} training rows, {data.X_train.shape[1]} features, "
             f"{data.Y_train.shape[1]} labels){synthetic}. Hyperparameters {origin}: {described}.", "",
             f"step: {repeats} interleaved rounds of the three steps (value and gradient through both networks + "
             f"Adam update, one minibatch of {settings['batch_size']} rows each); epoch: each estimator trained "
             f"{min(repeats, 3)}× in turn for {epochs} epochs without validation, epochs 2–{epochs} timed by the "
             "training loop and divided by the number of minibatches.", "",
             "Checked before timing:", "", *checks, "",
             table(("measurement", "step", "median", "min–max", "samples", "× exact MLE"),
                   ((r["measurement"], r["step"], f"{r['median_ms']:.3f} ms",
                     f"{r['min_ms']:.3f}–{r['max_ms']:.3f} ms", r["samples"], f"{r['ratio_to_exact_mle']:.2f}")
                    for r in rows)), "",
             f"Target: a min-min step (m = {N_SAMPLES}) ≤ {TARGET:g}× an exact-MLE step of the unary model.", ""]
    for kind, denominator in (("step", EXACT), ("step", EXACT_ENERGY), ("epoch", EXACT)):
        ratio = step[(kind, MIN_MIN)]["median_ms"] / step[(kind, denominator)]["median_ms"]
        lines.append(f"- {kind}, against {denominator}: {ratio:.2f}× ({'met' if ratio <= TARGET else 'missed'})")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 rounds, 1 training of 4 epochs (a smoke run)")
    parser.add_argument("--repeats", type=int, default=400, help="interleaved rounds of steps (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=12, help="epochs per training (default %(default)s)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the result files go (default: %(default)s)")
    args = parser.parse_args(argv)
    repeats, epochs = (50, 4) if args.quick else (args.repeats, args.epochs)
    if epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is left untimed)")
    data = load_multilabel("yeast")
    settings, origin = configuration()
    steps = Steps(settings, data.X_train, data.Y_train)
    checks = check_steps(steps)
    print("\n".join(checks), flush=True)
    rows = rows_of("step", measure_steps(steps, repeats))
    rows += rows_of("epoch", measure_epochs(settings, data, repeats=1 if args.quick else 3, epochs=epochs))
    for r in rows:
        print(f"{r['measurement']:<6} {r['step']:<32} {r['median_ms']:8.3f} ms [{r['min_ms']:.3f}–{r['max_ms']:.3f}]"
              f"  {r['ratio_to_exact_mle']:.2f}× exact MLE", flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(args.out_dir / "partition_step.csv", rows)
    write_markdown(args.out_dir / "partition_step.md", rows, data=data, origin=origin, settings=settings,
                   checks=checks, repeats=repeats, epochs=epochs)
    print(f"written {args.out_dir / 'partition_step.csv'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
