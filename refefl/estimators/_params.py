"""The scikit-learn parameter protocol, without scikit-learn: ``get_params``, ``set_params``, ``clone``.

As in scikit-learn, an estimator's hyperparameters are exactly the keyword arguments of its ``__init__``, stored
unchanged under the same names; validation happens in ``fit``. Fitted state lives in attributes ending in ``_``.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted estimator was called before ``fit``.

    A subclass of both ``ValueError`` and ``AttributeError``, like ``sklearn.exceptions.NotFittedError`` (so
    that ``except ValueError``, ``except AttributeError`` and ``hasattr`` all behave as scikit-learn users
    expect), without importing scikit-learn.
    """


class ParamsMixin:
    """``get_params`` / ``set_params`` read from the ``__init__`` signature, and a repr of the changed ones."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name, p in signature.parameters.items() if name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, ``{name: value}`` (``deep`` is accepted for scikit-learn compatibility: these
        estimators hold no nested estimators)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "ParamsMixin":
        """Set hyperparameters by name and return ``self``; ``ValueError`` for an unknown name."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults.get(k))}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays: compare by identity
        return a is b


def clone(estimator: ParamsMixin) -> ParamsMixin:
    """A new, unfitted estimator with copies of the hyperparameters (``sklearn.base.clone`` for these estimators).

    The values are deep copies (a cloned ``random_state`` generator does not advance the original's), and, as
    scikit-learn does, the copy's ``__init__`` must store each one unchanged: ``RuntimeError`` otherwise.
    """
    params = {name: copy.deepcopy(value) for name, value in estimator.get_params().items()}
    new = type(estimator)(**params)
    stored = new.get_params()
    for name, value in params.items():
        if stored[name] is not value:
            raise RuntimeError(f"cannot clone {type(estimator).__name__}: its __init__ does not store the parameter "
                               f"{name!r} unchanged (set it as given; validate in fit)")
    return new
