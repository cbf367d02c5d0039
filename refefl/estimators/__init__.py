"""Estimators with a scikit-learn-style API (``fit``, ``predict``, ``decision_function``, ``score``,
``get_params`` / ``set_params``), built on refefl's losses and networks without importing scikit-learn.

- :class:`EnergyMultilabelClassifier`: a network feeding a unary, pairwise or MLP energy, trained with the
  generalized Fenchel-Young loss (minibatch Adam, early stopping on a validation split);
- :class:`BinaryRelevanceLogisticRegression`: independent L2 logistic regressions, the classic baseline;
- :class:`PartitionMultilabelClassifier`, :class:`PartitionLabelRanker`: an energy network and a log-partition
  network trained jointly by the min-min loss (or exact MLE, or the sampled log-likelihood);
- the multilabel metrics :func:`hamming_accuracy`, :func:`example_f1`, :func:`micro_f1`, :func:`macro_f1`, and
  the label-ranking ones :func:`kendall_tau`, :func:`spearman_rho`;
- :func:`clone`: an unfitted copy with the same hyperparameters; :class:`NotFittedError`, raised by
  ``predict``, ``decision_function`` and ``score`` before ``fit``.
"""
from refefl.estimators._metrics import METRICS, example_f1, hamming_accuracy, macro_f1, micro_f1
from refefl.estimators._multilabel import BinaryRelevanceLogisticRegression, EnergyMultilabelClassifier
from refefl.estimators._params import NotFittedError, clone
from refefl.estimators._partition import PartitionLabelRanker, PartitionMultilabelClassifier
from refefl.estimators._ranking_metrics import kendall_tau, spearman_rho

__all__ = [
    "EnergyMultilabelClassifier",
    "BinaryRelevanceLogisticRegression",
    "PartitionMultilabelClassifier",
    "PartitionLabelRanker",
    "clone",
    "NotFittedError",
    "METRICS",
    "hamming_accuracy",
    "example_f1",
    "micro_f1",
    "macro_f1",
    "kendall_tau",
    "spearman_rho",
]
