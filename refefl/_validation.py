"""Input checks shared by every public function: Python validates, kernels compute.

Conventions (the same everywhere in refefl):

- integer and boolean arrays become float64; float32 stays float32; float64 stays float64; any other dtype
  (complex, float16, longdouble, object, strings) raises ``TypeError`` naming the argument;
- arrays must have at least one axis and a non-empty last axis (``ValueError`` otherwise);
- NaN is never accepted; ``+inf`` is never accepted in scores; ``-inf`` is accepted only where a function
  documents it (a score of ``-inf`` means "this coordinate is impossible");
- inputs are never written to: functions that need a writable or contiguous buffer make a copy.
"""
from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name: str, *, min_ndim: int = 1) -> np.ndarray:
    """Return ``x`` as a float32 or float64 ndarray (ints and bools to float64) with a non-empty last axis."""
    if isinstance(x, np.ma.MaskedArray):  # np.asarray would drop the mask and compute on the hidden values
        raise TypeError(f"{name} is a masked array; refefl does not honour masks: pass x.filled(value) or "
                        "x.compressed(), or use -inf scores for impossible coordinates where a function accepts them")
    try:
        arr = np.asarray(x)
    except ValueError as err:  # NumPy's "inhomogeneous shape" message does not say which argument
        raise ValueError(f"{name} is ragged: its rows have different lengths; pass a rectangular array") from err
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must hold real numbers of dtype float32 or float64 (or integers), got {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if arr.ndim >= 1 and arr.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last axis, got shape {arr.shape}")
    return arr


#: Status of one row of scores, as :func:`score_status` and the compiled score kernels write it: the kernels find it
#: in the pass over the row they make anyway (its maximum), so that validating costs no pass of its own;
#: :func:`raise_for_status` turns it into the errors :func:`check_scores` raises.
SCORES_OK, SCORES_NAN, SCORES_POS_INF, SCORES_TOO_FEW_FINITE = 0, 1, 2, 3


def check_scores(theta: np.ndarray, name: str = "theta", *, allow_neg_inf: bool = True) -> None:
    """Raise ``ValueError`` if ``theta`` holds NaN or +inf, a row made only of -inf, or -inf when not allowed.

    One reduction (the max of each row) decides the first three cases, since NaN and +inf propagate into it:
    validation costs one pass over the data, not one per condition.
    """
    row_max = np.max(theta, axis=-1)
    if np.isnan(row_max).any():
        raise ValueError(_score_error(SCORES_NAN, name))
    if np.isposinf(row_max).any():
        raise ValueError(_score_error(SCORES_POS_INF, name))
    if np.isneginf(row_max).any():
        raise ValueError(_score_error(SCORES_TOO_FEW_FINITE, name))
    if not allow_neg_inf and np.isneginf(np.min(theta)):
        raise ValueError(f"{name} contains -inf; this function needs finite scores")


def score_status(x: np.ndarray, min_finite: float = 1.0) -> np.ndarray:
    """Status (int8, one per row) of the 2-D scores ``x``: SCORES_NAN, else SCORES_POS_INF, else
    SCORES_TOO_FEW_FINITE (fewer than ``min_finite`` entries above -inf), else SCORES_OK."""
    row_max = np.max(x, axis=1)
    status = np.where(np.count_nonzero(x > -np.inf, axis=1) < min_finite, SCORES_TOO_FEW_FINITE, SCORES_OK)
    status[np.isposinf(row_max)] = SCORES_POS_INF
    status[np.isnan(row_max)] = SCORES_NAN
    return status.astype(np.int8)


def raise_for_status(status: np.ndarray, name: str, infeasible: str | None = None) -> None:
    """Raise the ``ValueError`` of the worst row status (NaN, then +inf, then too few finite scores).

    ``infeasible`` replaces the message of SCORES_TOO_FEW_FINITE (default: a row made only of -inf).
    """
    if not status.any():
        return
    worst = [code for code in (SCORES_NAN, SCORES_POS_INF, SCORES_TOO_FEW_FINITE) if (status == code).any()]
    if worst:
        raise ValueError(infeasible if worst[0] == SCORES_TOO_FEW_FINITE and infeasible else
                         _score_error(worst[0], name))


def _score_error(code: int, name: str) -> str:
    return {SCORES_NAN: f"{name} contains NaN",
            SCORES_POS_INF: f"{name} contains +inf; scores must be finite or -inf",
            SCORES_TOO_FEW_FINITE: f"{name} has a row whose entries are all -inf: no feasible output"}[code]


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or an infinity."""
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")


def finite_range(x: np.ndarray, name: str) -> tuple[float, float]:
    """Return ``(min(x), max(x))``, raising ``ValueError`` if ``x`` holds NaN or an infinity.

    Two reductions without temporaries: cheaper than ``isfinite(x).all()`` when the range is needed anyway.
    """
    low, high = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return low, high


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}")


def common_float_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 if every array is float32, else float64."""
    return np.result_type(*arrays, np.float32)


def as_rows(x: np.ndarray, axis: int = -1, dtype=None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Move ``axis`` last and return a C-contiguous 2-D copy-or-view ``(n_rows, n)`` plus the moved shape."""
    moved = np.moveaxis(x, axis, -1)
    rows = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]), dtype=dtype)
    return rows, moved.shape


def from_rows(rows: np.ndarray, moved_shape: tuple[int, ...], axis: int = -1) -> np.ndarray:
    """Inverse of :func:`as_rows`: reshape ``rows`` to ``moved_shape`` and put the last axis back at ``axis``."""
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


def check_axis(x: np.ndarray, axis: int, name: str) -> int:
    """Normalize ``axis`` for ``x`` and check that the axis is non-empty (a bool is not an axis)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of bounds for {name} of shape {x.shape}")
    axis = int(axis) % x.ndim
    if x.shape[axis] == 0:
        raise ValueError(f"{name} must be non-empty along axis {axis}, got shape {x.shape}")
    return axis


def check_positive(value, name: str, *, strict: bool = True) -> float:
    """Return ``value`` as a float after checking it is a finite (strictly) positive real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (strict and value == 0):
        raise ValueError(f"{name} must be a finite {'positive' if strict else 'non-negative'} number, got {value}")
    return value


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int after checking it is a positive integer (``TypeError`` for a bool, a float or
    any non-integer, ``ValueError`` below 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


#: The largest iteration budget a compiled kernel takes (a C int, with room for its "unconverged" marker).
MAX_KERNEL_ITER = 2**31 - 2


def check_max_iter(value, name: str = "max_iter") -> int:
    """:func:`check_positive_int` for the budget of a bracketing root finder, capped at :data:`MAX_KERNEL_ITER`.

    Capping changes no result: the searches fall back to bisection whenever Newton leaves the bracket and stop
    when it closes on adjacent floats, which takes at most a few thousand evaluations over the float64 range.
    """
    return min(check_positive_int(value, name), MAX_KERNEL_ITER)


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool after checking it is one (``bool`` or ``numpy.bool_``; ``TypeError`` otherwise:
    a string such as ``"no"`` is truthy, and 0/1 are numbers)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def feasibility_tol(dtype) -> float:
    """Tolerance for membership tests of user-given targets: sqrt(machine epsilon) of ``dtype``."""
    return float(np.sqrt(np.finfo(dtype).eps))


def solver_tol(dtype) -> float:
    """Default convergence tolerance of iterative solvers: a small multiple of machine epsilon of ``dtype``."""
    return float(4 * np.finfo(dtype).eps)
