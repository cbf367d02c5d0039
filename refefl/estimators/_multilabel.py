"""Multilabel classifiers trained with generalized Fenchel-Young losses, with a scikit-learn-style API."""
from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from refefl._validation import check_positive, check_positive_int
from refefl.estimators._energy_model import ENERGIES, MAX_EXACT_LABELS, REGULARIZERS, EnergyModel
from refefl.estimators._inputs import check_features, check_targets, standardization
from refefl.estimators._metrics import hamming_accuracy
from refefl.estimators._params import NotFittedError, ParamsMixin
from refefl.nn._training import train_minibatch, validation_split
from refefl.projections._root_finding import ConvergenceWarning

DECODERS = ("threshold", "exact")
MONITORS = ("loss", "hamming")


def _check_choice(value, name: str, choices: Sequence) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def _check_widths(widths, name: str) -> tuple[int, ...]:
    if not isinstance(widths, (tuple, list)):
        raise ValueError(f"{name} must be a tuple of positive integers, e.g. (256,), got {widths!r}")
    return tuple(check_positive_int(m, name) for m in widths)


def _check_rng(random_state) -> np.random.Generator:
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise TypeError(f"random_state must be None, an int or a numpy.random.Generator, got {type(random_state).__name__}")


class EnergyMultilabelClassifier(ParamsMixin):
    r"""Multilabel classifier trained with a generalized Fenchel-Young loss (an energy network).

    A network θ = f_W(x) ∈ R^k (linear, or an MLP) feeds an energy Φ over label vectors y ∈ [0, 1]^k, and
    the model predicts the regularized maximizer

    .. math::

        \hat y(x) = \operatorname*{argmax}_{y \in [0,1]^k} \Phi(y, f_W(x)) - \Omega(y), \qquad
        L(W; x, y) = [\Omega(y) - \Phi(y, \theta)] - [\Omega(\hat y) - \Phi(\hat y, \theta)] \ge 0,

    trained by minibatch Adam on the mean loss plus ½ λ‖w‖² (weights, not biases), with the gradient of
    Danskin's theorem sent through the hand-written backward pass of f_W (ŷ held fixed; the solver is never
    differentiated). Features are standardized with the training mean and standard deviation (constant features
    are centred only). A fraction of the training rows is held out for early stopping.

    Parameters
    ----------
    energy : {"unary", "quadratic", "low_rank", "mlp"}, default "unary"
        Φ = ⟨y, θ⟩; ⟨y, θ⟩ + ½⟨y, Ay⟩ with A learned, shared, symmetric with zero diagonal, initialized at 0
        and projected after every step onto λ_max(A) ≤ μ/2 (μ = 4 for the binary entropy, 1 for ½‖·‖²), which
        keeps the inner problem strongly concave (why: docs/fenchel_young.md §2.9);
        the concave ⟨y, θ⟩ − ½‖Vᵀy‖² with V of shape (k, ``rank``); or ⟨y, θ⟩ plus an MLP of (θ, y) with
        hidden widths ``energy_hidden``. See :class:`refefl.energies.Quadratic`,
        :class:`~refefl.energies.LowRankConcave` and :class:`refefl.energies.UnaryPlusMLPEnergy`.
    regularizer : {"binary_entropy", "box_squared"}, default "binary_entropy"
        Ω on the box: with the unary energy, the logistic loss (ŷ = sigmoid(θ)) or the sparse multilabel loss
        (ŷ = clip(θ, 0, 1)).
    hidden_layer_sizes : tuple of int, default ()
        Hidden widths of f_W; () is a linear model θ = xW + b.
    activation : str, default "relu"
        Hidden activation of f_W (see :class:`refefl.nn.MLP`).
    rank : int, default 4
        Rank of V (``energy="low_rank"``).
    energy_hidden : tuple of int, default (32,)
        Hidden widths of the MLP energy (``energy="mlp"``).
    learning_rate : float, default 1e-2
        Adam's step size.
    weight_decay : float, default 1e-4
        λ ≥ 0; λ = 1/(C n) matches scikit-learn's ``LogisticRegression(C=C)`` on n training rows.
    batch_size : int, default 64
    max_epochs : int, default 200
    patience : int, default 10
        Stop after this many epochs without improvement of the validation criterion.
    validation_fraction : float, default 0.2
        Fraction of the training rows held out (at random) for early stopping, in [0, 1); 0 trains for
        ``max_epochs`` on every row.
    monitor : {"loss", "hamming"}, default "loss"
        Early-stopping criterion: the mean validation loss, or the validation Hamming accuracy.
    refit : bool, default False
        After early stopping has chosen the number of epochs E on the validation split, train a fresh model on
        all the rows for E epochs (the validation attributes describe the first fit).
    threshold : float, default 0.5
        ``decode="threshold"`` predicts label j when ŷ_j > threshold.
    decode : {"threshold", "exact"}, default "threshold"
        ``"exact"`` predicts :math:`\operatorname{argmax}_{y \in \{0,1\}^k} \Phi(y, \theta) - \Omega(y)` by
        enumeration (k ≤ 16; cost O(n 2^k)). For the unary energy both decoders agree at threshold 0.5 (Ω(y) is 0
        at the vertices for binary entropy, and ½Σ_j y_j for ½‖·‖², which is the 0.5 offset of clip).
    max_iter : int, default 50
        Iteration budget of the inner maximizer (sweeps of coordinate ascent; steps of mirror / projected gradient
        ascent for the MLP energy). Training counts the minibatches where it ran out (``history_``) and warns once.
        With the pairwise energies, each row's solve starts from its ŷ of the previous epoch (a warm start: the
        maximizer is unique, so only the number of sweeps changes).
    tol : float, default 1e-6
        Stopping tolerance of the inner maximizer.
    random_state : None, int or numpy.random.Generator, default None
        Seeds the validation split, the initialization and the minibatch order.
    verbose : bool, default False
        Print one line per epoch (training loss, validation loss and Hamming accuracy, seconds).

    Attributes
    ----------
    params_ : dict
        ``{"net": [...], "energy": ...}``, the fitted parameters.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardization.
    n_features_in_, n_labels_ : int
    classes_ : ndarray of shape (n_labels,)
        The label indices 0, ..., k − 1 (scikit-learn's convention for multilabel indicator targets).
    n_iter_ : int
        Epochs of the training that produced ``params_`` (the refit, with ``refit=True``).
    history_ : list of dict
        One record per epoch (see :func:`refefl.nn.train_minibatch`).
    best_epoch_ : int
    best_validation_loss_, best_validation_score_ : float
        Validation loss and Hamming accuracy at ``best_epoch_`` (NaN without validation).

    References
    ----------
    Blondel, Llinares-López, Dadashi, Hussenot, Geist (2022), "Learning Energy Networks with Generalized
    Fenchel-Young Losses", NeurIPS, Def. 2, §3.3 (gradient through a network) and §6 (multilabel
    classification); Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §8.
    """

    def __init__(self, energy: str = "unary", regularizer: str = "binary_entropy", *,
                 hidden_layer_sizes: tuple[int, ...] = (), activation: str = "relu", rank: int = 4,
                 energy_hidden: tuple[int, ...] = (32,), learning_rate: float = 1e-2, weight_decay: float = 1e-4,
                 batch_size: int = 64, max_epochs: int = 200, patience: int = 10,
                 validation_fraction: float = 0.2, monitor: str = "loss", refit: bool = False,
                 threshold: float = 0.5, decode: str = "threshold", max_iter: int = 50, tol: float = 1e-6,
                 random_state=None, verbose: bool = False):
        self.energy = energy
        self.regularizer = regularizer
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.rank = rank
        self.energy_hidden = energy_hidden
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.monitor = monitor
        self.refit = refit
        self.threshold = threshold
        self.decode = decode
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -- scikit-learn protocol -------------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        """scikit-learn's estimator tags: a multilabel classifier (targets: a 0/1 matrix of shape
        (n_samples, n_labels), never 1-D), dense real input without NaN. Only scikit-learn calls this, so
        scikit-learn is imported here and nowhere else in refefl."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier",
                    target_tags=TargetTags(required=True, multi_output=True, single_output=False),
                    classifier_tags=ClassifierTags(multi_class=False, multi_label=True),
                    input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False))

    #: scikit-learn's common checks these estimators fail by design, with the reason (for
    #: ``parametrize_with_checks(..., expected_failed_checks=...)``; scikit-learn ≥ 1.6 reads reasons from there)
    _sklearn_expected_failed_checks = {
        "check_estimators_unfitted": "raises refefl.estimators.NotFittedError, a ValueError and AttributeError "
                                     "like scikit-learn's, which refefl cannot subclass without importing it",
        "check_classifier_multioutput": "decision_function returns the regularized prediction ŷ in [0, 1]^k, "
                                        "thresholded at `threshold`, not a margin whose sign is the label",
        **dict.fromkeys(
            ("check_estimators_dtypes", "check_classifier_data_not_an_array", "check_fit2d_1feature",
             "check_classifiers_one_label", "check_classifiers_classes", "check_classifiers_train",
             "check_classifier_not_supporting_multiclass"),
            "targets are a 0/1 multilabel indicator matrix of shape (n_samples, n_labels), predictions too; "
            "the check passes class labels (1-D, strings, or two values other than 0 and 1), which are refused "
            "with a ValueError naming the target type"),
    }

    # -- hyperparameters -------------------------------------------------------------------------------------------
    def _model_settings(self) -> dict:
        """Validated settings of :class:`EnergyModel`."""
        return {
            "energy": _check_choice(self.energy, "energy", ENERGIES),
            "regularizer": _check_choice(self.regularizer, "regularizer", REGULARIZERS),
            "hidden": _check_widths(self.hidden_layer_sizes, "hidden_layer_sizes"),
            "activation": self.activation,
            "rank": check_positive_int(self.rank, "rank"),
            "energy_hidden": _check_widths(self.energy_hidden, "energy_hidden"),
            "max_iter": check_positive_int(self.max_iter, "max_iter"),
            "tol": check_positive(self.tol, "tol"),
        }

    def _weight_decay(self, n_train: int) -> float:
        """λ for ``n_train`` training rows."""
        return check_positive(self.weight_decay, "weight_decay", strict=False)

    def _check_prediction_settings(self) -> None:
        if not 0 <= check_positive(self.threshold, "threshold", strict=False) <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        _check_choice(self.decode, "decode", DECODERS)
        _check_choice(self.monitor, "monitor", MONITORS)

    def _split(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(validation rows, training rows): a random ``validation_fraction`` of ``range(n)`` and the rest."""
        return validation_split(n, self.validation_fraction, rng)

    def _training_settings(self) -> dict:
        return {
            "learning_rate": check_positive(self.learning_rate, "learning_rate"),
            "batch_size": check_positive_int(self.batch_size, "batch_size"),
            "max_epochs": check_positive_int(self.max_epochs, "max_epochs"),
            "patience": check_positive_int(self.patience, "patience"),
            "verbose": bool(self.verbose),
        }

    # -- fitting ---------------------------------------------------------------------------------------------------
    def fit(self, X, y) -> "EnergyMultilabelClassifier":
        """Fit on features ``X`` of shape (n_samples, n_features) and labels ``y`` (Y), an indicator matrix of
        shape (n_samples, n_labels) in {0, 1}; returns ``self``. ``FloatingPointError`` when the training diverges
        (a minibatch's loss or gradient is not finite: lower the learning rate)."""
        X, Y = check_features(X), check_targets(y)
        if len(X) != len(Y):
            raise ValueError(f"X and Y must have the same number of rows, got {len(X)} and {len(Y)}")
        settings = self._model_settings()
        self._check_prediction_settings()
        training = self._training_settings()
        rng = _check_rng(self.random_state)
        val, train = self._split(len(X), rng)
        self.mean_, self.scale_ = standardization(X)
        Z = (X - self.mean_) / self.scale_
        self.n_features_in_, self.n_labels_ = X.shape[1], Y.shape[1]
        self.classes_ = np.arange(self.n_labels_)
        if self.decode == "exact" and self.n_labels_ > MAX_EXACT_LABELS:
            raise ValueError(f"decode='exact' needs at most {MAX_EXACT_LABELS} labels, got {self.n_labels_}")
        self._model = EnergyModel(X.shape[1], Y.shape[1], **settings)
        result = self._train(Z, Y, train, val, rng, training)
        self.history_, self.best_epoch_ = result.history, result.best_epoch
        best = self.history_[max(self.best_epoch_, 1) - 1]
        self.best_validation_loss_ = best.get("val_loss", np.nan)
        self.best_validation_score_ = best.get("val_hamming", np.nan)
        if self.refit and len(val):
            # the validation split chose the number of epochs; now train afresh on every row for that many
            training["max_epochs"] = max(self.best_epoch_, 1)
            result = self._train(Z, Y, np.arange(len(X)), val[:0], rng, training)
        self.params_, self.n_iter_ = result.params, len(result.history)
        self._warn_unconverged(result.history)
        return self

    def _train(self, Z, Y, train: np.ndarray, val: np.ndarray, rng, training: dict):
        """Train a fresh model on the rows ``train``, early stopping on the rows ``val`` (if any)."""
        params = self._model.init(rng)
        warm = np.full((len(train), Y.shape[1]), np.nan)  # last ŷ of each row: inner solves start there

        def grad_fn(p, rows):
            start = warm[rows]
            with warnings.catch_warnings():
                # counted from the maximizer's report (the history's "unconverged"), warned once by fit
                warnings.simplefilter("ignore", ConvergenceWarning)
                loss, grads, y_hat, converged = self._model.value_and_grad(
                    p, Z[train[rows]], Y[train[rows]], None if np.isnan(start).any() else start)
            if y_hat is not None:
                warm[rows] = y_hat
            return loss, grads, converged

        return train_minibatch(
            grad_fn, params, len(train), validate=self._validator(Z[val], Y[val]) if len(val) else None, rng=rng,
            weight_decay=self._weight_decay(len(train)), decay_mask=self._model.decay_mask(params),
            project=self._model.project, reports_convergence=True, **training,
        )

    def _validator(self, Z_val: np.ndarray, Y_val: np.ndarray):
        """``validate(params) -> (criterion, report)`` on the held-out rows, for the training loop."""
        def validate(params):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # counted on the training batches
                y_hat = self._model.predict_proba(params, Z_val)
                loss = self._model.mean_loss(params, Z_val, Y_val, y0=y_hat)
            accuracy = hamming_accuracy(Y_val, self._decode(params, Z_val, y_hat))
            return (loss if self.monitor == "loss" else -accuracy), {"val_loss": loss, "val_hamming": accuracy}

        return validate

    def _warn_unconverged(self, history: list) -> None:
        bad = sum(record["unconverged"] for record in history)
        if bad:
            warnings.warn(f"the inner maximizer used its whole budget (max_iter={self.max_iter}) on {bad} "
                          "minibatches during training; raise max_iter or tol for exact losses", ConvergenceWarning,
                          stacklevel=3)

    # -- prediction ------------------------------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self, X) -> np.ndarray:
        """Standardized features, after checking that ``fit`` was called (:class:`NotFittedError` otherwise)."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, Y) first")
        return (check_features(X, self.n_features_in_, type(self).__name__) - self.mean_) / self.scale_

    def _decode(self, params, Z: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
        if self.decode == "exact":
            return self._model.exact_decode(params, Z).astype(np.int64)
        return (y_hat > self.threshold).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        r"""The regularized prediction :math:`\hat y^\Phi_\Omega(f_W(x)) \in [0, 1]^k`, ndarray of shape
        (n_samples, n_labels): sigmoid(θ) for the unary logistic model, clip(θ, 0, 1) for the unary sparse one,
        the (approximate) maximizer of Φ − Ω over the box otherwise."""
        Z = self._check_fitted(X)
        return self._model.predict_proba(self.params_, Z)

    def predict(self, X) -> np.ndarray:
        """Predicted labels, ndarray of shape (n_samples, n_labels) of int64 in {0, 1} (see ``decode``)."""
        Z = self._check_fitted(X)
        y_hat = None if self.decode == "exact" else self._model.predict_proba(self.params_, Z)
        return self._decode(self.params_, Z, y_hat)

    def score(self, X, y) -> float:
        """Hamming accuracy of :meth:`predict` on (X, y) (see :func:`refefl.estimators.hamming_accuracy`)."""
        return hamming_accuracy(check_targets(y), self.predict(X))


class BinaryRelevanceLogisticRegression(EnergyMultilabelClassifier):
    r"""Binary relevance: one L2-regularized logistic regression per label, trained jointly by the same loop.

    .. math::

        \min_{W, b}\ \frac1n \sum_{i=1}^n \sum_{j=1}^k \log\big(1 + e^{-(2y_{ij} - 1)(x_i^\top w_j + b_j)}\big)
        + \frac{1}{2Cn}\|W\|_F^2,

    the objective of scikit-learn's ``LogisticRegression(C=C)`` fitted on each label (divided by Cn), which is
    also the :class:`EnergyMultilabelClassifier` with ``energy="unary"``, ``regularizer="binary_entropy"``, a
    linear network and ``weight_decay = 1/(C n)`` (n the rows left for training after the validation split).
    It predicts label j when sigmoid(x_iᵀw_j + b_j) > ``threshold``.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 strength, as in scikit-learn.
    learning_rate, batch_size, max_epochs, patience, validation_fraction, monitor, refit, threshold, random_state,
    verbose
        As in :class:`EnergyMultilabelClassifier`.

    References
    ----------
    Boutell, Luo, Shen, Brown (2004), "Learning multi-label scene classification", Pattern Recognition 37(9)
    (binary relevance); Blondel, Martins, Niculae (2020), "Learning with Fenchel-Young Losses", JMLR 21, §8
    (the logistic loss as the FY loss of the binary entropy).
    """

    # fixed settings of the base class (class attributes, so that get_params lists only C and the loop's options)
    energy, regularizer, hidden_layer_sizes, activation = "unary", "binary_entropy", (), "relu"
    rank, energy_hidden, decode, max_iter, tol = 1, (1,), "threshold", 1, 1.0

    def __init__(self, C: float = 1.0, *, learning_rate: float = 1e-2, batch_size: int = 64, max_epochs: int = 200,
                 patience: int = 10, validation_fraction: float = 0.2, monitor: str = "loss",
                 refit: bool = False, threshold: float = 0.5, random_state=None, verbose: bool = False):
        self.C = C
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.monitor = monitor
        self.refit = refit
        self.threshold = threshold
        self.random_state = random_state
        self.verbose = verbose

    def _weight_decay(self, n_train: int) -> float:
        return 1.0 / (check_positive(self.C, "C") * n_train)
