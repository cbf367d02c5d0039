r"""Estimators of the partition-network paper: an energy network and a log-partition network over label sets
(:class:`PartitionMultilabelClassifier`) or rankings (:class:`PartitionLabelRanker`), with a scikit-learn-style API.

Both train :class:`refefl.partition.PartitionNetworks` by minibatch Adam (:func:`train_minibatch`) on one of the
objectives of the paper's comparison: the min-min loss (energy and τ jointly, m sampled outputs per example, for
the KL, sparsemax and Tsallis divergences), exact maximum likelihood (τ fitted to the exact log-partition in the
same step), or the biased sampled log-likelihood (no τ).
"""
from __future__ import annotations

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.estimators._inputs import check_features, check_targets, standardization
from refefl.estimators._metrics import example_f1
from refefl.estimators._multilabel import _check_choice, _check_rng, _check_widths
from refefl.estimators._params import NotFittedError, ParamsMixin
from refefl.estimators._ranking_metrics import check_rank_matrix, kendall_tau
from refefl.nn._training import train_minibatch, validation_split
from refefl.partition._baselines import PersistentChains, mcmc_objective, min_max_objective, nce_objective
from refefl.partition._loss import DIVERGENCES
from refefl.partition._networks import PartitionNetworks

OBJECTIVES = ("min_min", "exact_mle", "log_mean_exp", "mcmc", "min_max", "nce")
#: the objectives that train no partition network
_NO_TAU = ("log_mean_exp", "mcmc", "nce")


class _PartitionEstimator(ParamsMixin):
    """Shared fitting and prediction; subclasses set the energies, the target conversion and the metric."""

    _energies: tuple[str, ...] = ()  # the first is the default
    _metric_name = ""

    def __init__(self, energy: str | None = None, *, objective: str = "min_min", divergence: str = "kl",
                 alpha: float | None = None, n_samples: int = 100, n_mcmc_steps: int = 1, hidden_layer_sizes: tuple[int, ...] = (),
                 tau_hidden_layer_sizes: tuple[int, ...] = (32,), activation: str = "relu",
                 learning_rate: float = 1e-2, weight_decay: float = 1e-4, batch_size: int = 64,
                 max_epochs: int = 100, patience: int = 10, validation_fraction: float = 0.2,
                 random_state=None, verbose: bool = False):
        self.energy = energy
        self.objective = objective
        self.divergence = divergence
        self.alpha = alpha
        self.n_samples = n_samples
        self.n_mcmc_steps = n_mcmc_steps
        self.hidden_layer_sizes = hidden_layer_sizes
        self.tau_hidden_layer_sizes = tau_hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose

    # -- task hooks (subclasses) ---------------------------------------------------------------------------------
    def _check_y(self, y) -> np.ndarray:
        """Targets as the space's states (n, k)."""
        raise NotImplementedError

    def _to_output(self, states: np.ndarray) -> np.ndarray:
        """The space's states as what :meth:`predict` returns."""
        raise NotImplementedError

    def _metric(self, states_true: np.ndarray, states_pred: np.ndarray) -> float:
        raise NotImplementedError

    # -- scikit-learn protocol -------------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        """scikit-learn's estimator tags: targets a matrix of shape (n_samples, k), never 1-D; dense real input
        without NaN; the task's kind from :meth:`_sklearn_task_tags`. Only scikit-learn calls this (refefl does
        not import it elsewhere)."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(target_tags=TargetTags(required=True, multi_output=True, single_output=False),
                    input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
                    **self._sklearn_task_tags())

    def _sklearn_task_tags(self) -> dict:
        raise NotImplementedError

    #: scikit-learn's common checks these estimators fail by design, with the reason (for
    #: ``parametrize_with_checks(..., expected_failed_checks=...)``); subclasses add their target-format checks
    _sklearn_expected_failed_checks = {
        "check_estimators_unfitted": "raises refefl.estimators.NotFittedError, a ValueError and AttributeError "
                                     "like scikit-learn's, which refefl cannot subclass without importing it",
    }

    # -- fitting ---------------------------------------------------------------------------------------------------
    def _objective_fn(self, net: PartitionNetworks, rng: np.random.Generator, Y_train: np.ndarray):
        """``f(params, X, Y, rows) -> (mean loss, grads)`` for the chosen objective (``rows``: the training-row
        indices of X, Y, which address the persistent chains of ``"mcmc"``, started at ``Y_train``)."""
        objective = _check_choice(self.objective, "objective", OBJECTIVES)
        if objective == "mcmc":
            steps = check_positive_int(self.n_mcmc_steps, "n_mcmc_steps")
            chains = PersistentChains(Y_train[:, None, :])
            return lambda p, X, Y, rows: mcmc_objective(net, p, X, Y, rows, rng=rng, chains=chains,
                                                        n_mcmc_steps=steps)
        if objective in ("min_max", "nce"):
            m = check_positive_int(self.n_samples, "n_samples")
            baseline = min_max_objective if objective == "min_max" else nce_objective
            return lambda p, X, Y, rows: baseline(net, p, X, Y, rng=rng, n_samples=m)
        if objective == "min_min":
            divergence = _check_choice(self.divergence, "divergence", DIVERGENCES)
            m = check_positive_int(self.n_samples, "n_samples")
            return lambda p, X, Y, rows: net.min_min(p, X, Y, rng=rng, n_samples=m, divergence=divergence,
                                               alpha=self.alpha)
        if objective == "log_mean_exp":
            m = check_positive_int(self.n_samples, "n_samples")
            return lambda p, X, Y, rows: net.log_mean_exp(p, X, Y, rng=rng, n_samples=m)

        # exact MLE of the energy; τ regressed on the exact log-partition in the same step
        return lambda p, X, Y, rows: net.exact_nll(p, X, Y, fit_tau=True)

    def fit(self, X, y) -> "_PartitionEstimator":
        """Fit on features ``X`` of shape (n_samples, n_features) and targets ``y`` of shape (n_samples, k).
        ``FloatingPointError`` naming the objective when the training diverges (a loss or gradient not finite)."""
        X, Y = check_features(X), self._check_y(y)
        if len(X) != len(Y):
            raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(Y)}")
        energy = self._energies[0] if self.energy is None else _check_choice(self.energy, "energy", self._energies)
        rng = _check_rng(self.random_state)
        val, train = validation_split(len(X), self.validation_fraction, rng)
        self.mean_, self.scale_ = standardization(X)
        Z = (X - self.mean_) / self.scale_
        self.n_features_in_, self.n_outputs_ = X.shape[1], Y.shape[1]
        hidden = _check_widths(self.hidden_layer_sizes, "hidden_layer_sizes")
        self._net = PartitionNetworks(X.shape[1], Y.shape[1], energy, hidden=hidden,
                                      sampler_hidden=hidden if self.objective == "min_max" else None,
                                      tau_hidden=_check_widths(self.tau_hidden_layer_sizes, "tau_hidden_layer_sizes"),
                                      activation=self.activation)
        objective = self._objective_fn(self._net, rng, Y[train])
        params = self._net.init(rng)
        try:  # a diverged training (a loss or gradient not finite) names the objective
            result = train_minibatch(
                lambda p, rows: objective(p, Z[train[rows]], Y[train[rows]], rows), params, len(train),
                validate=self._validator(Z[val], Y[val]) if len(val) else None, rng=rng,
                learning_rate=check_positive(self.learning_rate, "learning_rate"),
                weight_decay=check_positive(self.weight_decay, "weight_decay", strict=False),
                decay_mask=self._net.decay_mask(params),
                batch_size=check_positive_int(self.batch_size, "batch_size"),
                max_epochs=check_positive_int(self.max_epochs, "max_epochs"),
                patience=check_positive_int(self.patience, "patience"), verbose=bool(self.verbose))
        except FloatingPointError as error:
            raise FloatingPointError(f"objective={self.objective!r}: {error}") from None
        self.params_, self.history_, self.best_epoch_ = result.params, result.history, result.best_epoch
        self.n_iter_ = len(result.history)
        best = result.history[max(self.best_epoch_, 1) - 1]
        self.best_validation_score_ = best.get(f"val_{self._metric_name}", np.nan)
        return self

    def _validator(self, Z_val: np.ndarray, Y_val: np.ndarray):
        key = f"val_{self._metric_name}"

        def validate(params):
            score = self._metric(Y_val, self._net.mode(params, Z_val))
            return -score, {key: score}

        return validate

    # -- prediction ------------------------------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "params_")

    def _standardized(self, X) -> np.ndarray:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")
        return (check_features(X, self.n_features_in_, type(self).__name__) - self.mean_) / self.scale_

    def predict(self, X) -> np.ndarray:
        r"""The mode :math:`\operatorname{argmax}_y g_W(x, y)` of the energy for each row."""
        Z = self._standardized(X)
        return self._to_output(self._net.mode(self.params_, Z))

    def predict_log_partition(self, X) -> np.ndarray:
        r"""The partition network's :math:`\tau_V(x)`, ndarray of shape (n_samples,): an estimate of
        :math:`\log \mathbb E_{y \sim q} e^{g_W(x, y)}` (exact at the optimum for ``divergence="kl"``)."""
        Z = self._standardized(X)
        if self.objective in _NO_TAU:
            raise ValueError(f"objective={self.objective!r} trains no partition network; use 'min_min', "
                             "'exact_mle' or 'min_max'")
        return self._net.log_partition_estimate(self.params_, Z)[0]

    def exact_log_partition(self, X) -> np.ndarray:
        r"""The energy's exact :math:`\log \mathbb E_{y \sim q} e^{g_W(x, y)}` (its oracle), shape (n_samples,)."""
        Z = self._standardized(X)
        return self._net.energy.log_partition(self._net.energy_params(self.params_, Z)[0])

    def score(self, X, y) -> float:
        """The task's metric of :meth:`predict` on (X, y)."""
        Z = self._standardized(X)
        return self._metric(self._check_y(y), self._net.mode(self.params_, Z))


_PARAMETERS_DOC = r"""
    objective : {"min_min", "exact_mle", "log_mean_exp", "mcmc", "min_max", "nce"}, default "min_min"
        The min-min loss (energy and τ jointly); exact maximum likelihood (the energy's log-partition oracle,
        τ regressed on it in the same step); the biased sampled log-likelihood (no τ); and the baselines of
        :mod:`refefl.partition._baselines`: maximum likelihood with persistent chains started at the targets
        (Gibbs / swap-Metropolis, no τ; the loss is the energy gap g(chain) − g(y)), the min-max form with a
        REINFORCE-trained sampler network of the energy network's widths (τ on the importance-weighted
        min-min objective), ranking NCE (no τ).
    n_mcmc_steps : int, default 1
        Sweeps of the persistent chains per training step (``objective="mcmc"``).
    divergence : {"kl", "tsallis", "sparsemax"}, default "kl"
        Of the min-min loss (:func:`refefl.partition.min_min_loss`): "kl" is the logistic model
        :math:`p = q e^{g - \tau}`, "sparsemax" the sparse :math:`p = q [g - \tau]_+`.
    alpha : float in (1, 2], optional
        Tsallis index (``divergence="tsallis"`` only).
    n_samples : int, default 100
        m, outputs sampled per example and step (uniformly; from the sampler for min-max, which needs m ≥ 2).
    hidden_layer_sizes, tau_hidden_layer_sizes : tuple of int, default () and (32,)
        Hidden widths of the energy network f_W and of the partition network h_V.
    activation : str, default "relu"
    learning_rate, weight_decay, batch_size, max_epochs, patience : as in
        :class:`~refefl.estimators.EnergyMultilabelClassifier` (Adam; L2 on weight matrices and U).
    validation_fraction : float, default 0.2
        Held-out rows for early stopping on the task's metric of the mode.
    random_state : None, int or numpy.random.Generator
        Seeds the split, the initialization, the minibatches and the samples.
    verbose : bool, default False

    Attributes
    ----------
    params_ : dict
        ``{"energy": [...], "tau": [...]}``.
    mean_, scale_ : ndarray of shape (n_features,)
    n_features_in_, n_outputs_ : int
    history_ : list of dict
        Per epoch: ``train_loss``, the validation metric, seconds (:func:`train_minibatch`).
    best_epoch_, n_iter_ : int
    best_validation_score_ : float
        The validation metric at ``best_epoch_`` (NaN without a validation split).
"""


class PartitionMultilabelClassifier(_PartitionEstimator):
    __doc__ = r"""Multilabel classifier with an energy network and a log-partition network (min-min training).

    .. math::

        g_W(x, y) = \langle u_W(x), y\rangle \;\big(+ \tfrac12\langle y, U_W(x)\, y\rangle\big), \quad y \in \{0,1\}^k,
        \qquad \hat y(x) = \operatorname{argmax}_y g_W(x, y),

    trained on :math:`\frac1n\sum_i \tau(x_i) + \mathbb E_{y' \sim q} f^*(g(x_i, y') - \tau(x_i)) - g(x_i, y_i)`
    by sampling (q uniform on the 2^k label sets). ``score`` is the example-based F1.

    Parameters
    ----------
    energy : {"unary", "pairwise"} or None, default None (unary)
        U(x), symmetric with a zero diagonal, is an output of the network like u(x); the mode is exact by
        enumeration for k ≤ 16, iterated conditional modes beyond.
""" + _PARAMETERS_DOC + r"""
    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 and §5 (multilabel classification).
    """

    _energies = ("unary", "pairwise")
    _metric_name = "example_f1"

    def _sklearn_task_tags(self) -> dict:
        from sklearn.utils import ClassifierTags

        return {"estimator_type": "classifier", "classifier_tags": ClassifierTags(multi_class=False,
                                                                                  multi_label=True)}

    _sklearn_expected_failed_checks = {
        **_PartitionEstimator._sklearn_expected_failed_checks,
        **dict.fromkeys(
            ("check_estimators_dtypes", "check_classifier_data_not_an_array", "check_fit2d_1feature",
             "check_classifiers_one_label", "check_classifiers_classes", "check_classifiers_train",
             "check_classifier_not_supporting_multiclass"),
            "targets are a 0/1 multilabel indicator matrix of shape (n_samples, n_labels), predictions too; "
            "the check passes class labels (1-D, strings, or one column), which are refused with a ValueError "
            "naming the target type"),
    }

    def _check_y(self, y) -> np.ndarray:
        return check_targets(y).astype(np.int8)

    def _to_output(self, states: np.ndarray) -> np.ndarray:
        return states.astype(np.int64)

    def _metric(self, states_true, states_pred) -> float:
        return example_f1(states_true, states_pred)


class PartitionLabelRanker(_PartitionEstimator):
    __doc__ = r"""Label ranker with an energy network and a log-partition network (min-min training).

    .. math::

        g_W(x, \sigma) = \langle \theta_W(x), \rho_\sigma\rangle \;\text{(permutahedron)} \quad\text{or}\quad
        \langle \Theta_W(x), P_\sigma\rangle \;\text{(Birkhoff)}, \qquad
        \hat\sigma(x) = \operatorname{argmax}_\sigma g_W(x, \sigma),

    over the k! rankings with q uniform. Targets and predictions are in rank form (``y[i, j]`` = position of
    label j, 1 = most preferred, as :func:`refefl.datasets.load_label_ranking` returns them); ``score`` is the
    mean Kendall τ.

    Parameters
    ----------
    energy : {"permutahedron", "birkhoff"} or None, default None (permutahedron)
        The modes are an argsort and a maximum-weight assignment (Hungarian).
""" + _PARAMETERS_DOC + r"""
    References
    ----------
    Sander, Roulet, Liu, Blondel (2025), "Joint Learning of Energy-based Models and their Partition Function",
    ICML, §3 and §5 (label ranking).
    """

    _energies = ("permutahedron", "birkhoff")
    _metric_name = "kendall_tau"

    def _sklearn_task_tags(self) -> dict:
        return {"estimator_type": None}  # label ranking is neither scikit-learn's classification nor regression

    _sklearn_expected_failed_checks = {
        **_PartitionEstimator._sklearn_expected_failed_checks,
        **dict.fromkeys(
            ("check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
             "check_estimators_fit_returns_self", "check_readonly_memmap_input",
             "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit", "check_estimators_dtypes",
             "check_dtype_object", "check_pipeline_consistency", "check_estimators_nan_inf",
             "check_estimators_pickle", "check_f_contiguous_array_estimator",
             "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit2d_1sample",
             "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
             "check_n_features_in", "check_fit2d_predict1d"),
            "targets are rankings of k >= 2 labels in rank form, shape (n_samples, k); scikit-learn has no "
            "ranking targets and passes one column of class labels, refused with a ValueError naming the "
            "expected shape (tests/test_partition_sklearn.py runs these invariances on rankings)"),
    }

    def _check_y(self, y) -> np.ndarray:
        """Rank form (positions 1..k) to orderings (the label at each position, best first)."""
        if y is None:
            raise ValueError("this estimator requires y to be passed, but the target y is None "
                             "(y: rankings in rank form, shape (n_samples, n_labels))")
        Y = check_rank_matrix(y, "y")
        k = Y.shape[1]
        if not (np.sort(Y, axis=1) == np.arange(1, k + 1)).all():
            raise ValueError(f"y must be rankings in rank form: each row a permutation of 1..{k}")
        return np.argsort(Y, axis=1)

    def _to_output(self, states: np.ndarray) -> np.ndarray:
        return np.argsort(states, axis=1).astype(np.int64) + 1

    def _metric(self, states_true, states_pred) -> float:
        return kendall_tau(np.argsort(states_true, axis=1), np.argsort(states_pred, axis=1))
