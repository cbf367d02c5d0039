"""The scikit-learn parameter protocol, without scikit-learn: ``get_params``, ``set_params``, ``clone``.

As in scikit-learn, an estimator's hyperparameters are exactly the keyword arguments of its ``__init__``, stored
unchanged under the same names; validation happens in ``fit``. Fitted state lives in attributes ending in ``_``.
"""
from __future__ import annotations

import inspect
from typing import Any


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
    """A new, unfitted estimator with the same hyperparameters (``sklearn.base.clone`` for these estimators)."""
    return type(estimator)(**estimator.get_params())
