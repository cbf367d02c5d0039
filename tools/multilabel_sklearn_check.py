"""Cross-check refefl's binary-relevance logistic regression against scikit-learn's (not imported by refefl).

For each data set and C ∈ {0.01, 0.1, 1}: scikit-learn's ``OneVsRestClassifier(LogisticRegression(C))`` fitted to
convergence on the standardized training split, and refefl's :class:`BinaryRelevanceLogisticRegression` trained
two ways: full-batch Adam without validation (which must reach scikit-learn's objective: the relative gap is
reported) and the experiment's protocol (minibatches, early stopping, refit). Test Hamming accuracy and
example-based F1 in %, mean over ``--seeds`` seeds for refefl.

    python -m tools.multilabel_sklearn_check [--datasets yeast scene emotions] [--seeds 3] [--out PATH]

(default output: ``benchmarks/results/multilabel/sklearn_check.md``).
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

from refefl.datasets import load_multilabel
from refefl.estimators import BinaryRelevanceLogisticRegression, example_f1, hamming_accuracy
from refefl.experiments.multilabel import COMMON

OUT = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "multilabel" / "sklearn_check.md"
C_GRID = (0.01, 0.1, 1.0)


def objective(W: np.ndarray, b: np.ndarray, Z: np.ndarray, Y: np.ndarray, C: float) -> float:
    """scikit-learn's objective summed over labels: C Σ log(1 + exp(−s (z·w + b))) + ½‖w‖²."""
    margins = (2 * Y - 1) * (Z @ W + b)
    return float(C * np.logaddexp(0, -margins).sum() + 0.5 * (W * W).sum())


def scores(Y_true, Y_pred) -> tuple[float, float]:
    return 100 * hamming_accuracy(Y_true, Y_pred), 100 * example_f1(Y_true, Y_pred)


def check(name: str, seeds: int) -> list[str]:
    data = load_multilabel(name)
    rows = []
    for C in C_GRID:
        full = BinaryRelevanceLogisticRegression(C=C, validation_fraction=0.0, batch_size=len(data.X_train),
                                                 max_epochs=3000, learning_rate=3e-2, random_state=0)
        full.fit(data.X_train, data.Y_train)
        Z = (data.X_train - full.mean_) / full.scale_
        reference = OneVsRestClassifier(LogisticRegression(C=C, tol=1e-8, max_iter=10000)).fit(Z, data.Y_train)
        W_ref = np.stack([e.coef_[0] for e in reference.estimators_], axis=1)
        b_ref = np.array([e.intercept_[0] for e in reference.estimators_])
        best = objective(W_ref, b_ref, Z, data.Y_train, C)
        layer = full.params_["net"][0]
        gap = objective(layer["W"], layer["b"], Z, data.Y_train, C) / best - 1
        sk = scores(data.Y_test, reference.predict((data.X_test - full.mean_) / full.scale_))
        ours_full = scores(data.Y_test, full.predict(data.X_test))
        protocol = [scores(data.Y_test, BinaryRelevanceLogisticRegression(
            C=C, refit=True, random_state=seed, **{**COMMON, "learning_rate": 1e-2}).fit(
            data.X_train, data.Y_train).predict(data.X_test)) for seed in range(seeds)]
        ours = np.mean(protocol, axis=0)
        rows.append(f"| {name} | {C} | {sk[0]:.2f} / {sk[1]:.1f} | {ours_full[0]:.2f} / {ours_full[1]:.1f} | "
                    f"{gap:.1e} | {ours[0]:.2f} / {ours[1]:.1f} |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["yeast", "scene", "emotions"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="default: %(default)s")
    args = parser.parse_args(argv)
    lines = ["## Binary-relevance logistic regression: refefl vs scikit-learn", "",
             "Test Hamming accuracy / example F1 (%). Full batch: refefl trained to the optimum of scikit-learn's "
             "objective on the whole training split (relative objective gap shown). Protocol: minibatch Adam, early "
             f"stopping on 20% of the training split, refit on all of it, mean over {args.seeds} seeds.", "",
             "| data set | C | scikit-learn | refefl, full batch | objective gap | refefl, protocol |",
             "|---|---|---|---|---|---|"]
    # one BLAS thread: the matrices are small, and a second thread on a busy machine only slows the fits
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore")
        for name in args.datasets:
            lines += check(name, args.seeds)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
