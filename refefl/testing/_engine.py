"""The machinery every check shares: the call adapter, named properties, comparison and the Hypothesis runner.

A property is a name, a strategy builder and a test body that raises :class:`Mismatch` when the implementation
is wrong. :func:`run_properties` runs each with Hypothesis (seeded, no example database), keeps the minimal
counterexample (Hypothesis replays it last) and returns a :class:`~refefl.testing.CheckReport`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from refefl.testing._report import CheckReport, PropertyResult, error_measures, plain
from refefl.testing._tolerances import default_tolerance

DEFAULT_EXAMPLES = 100


class Mismatch(Exception):
    """A property does not hold: what was compared, and the values."""

    def __init__(self, message: str, expected=None, got=None, dtype=np.float64):
        super().__init__(message)
        self.message, self.expected, self.got, self.dtype = message, expected, got, dtype


def require_hypothesis():
    """Import Hypothesis or explain how to get it (it is optional for the basic helpers)."""
    try:
        import hypothesis
    except ImportError as error:  # pragma: no cover - exercised only without hypothesis
        raise ImportError(
            "refefl's check_* functions need Hypothesis: pip install 'refefl[test]' (or hypothesis>=6.90)"
        ) from error
    return hypothesis


def converter(convert) -> tuple[Callable, Callable]:
    """``(to_impl, to_numpy)`` for ``convert``: None/"numpy", "torch", "jax", a callable, or a pair of callables."""
    if convert is None or convert == "numpy":
        return (lambda x: x), np.asarray
    if convert == "torch":
        import torch

        return torch.from_numpy, lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
    if convert == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return jnp.asarray, np.asarray
    if callable(convert):
        return convert, np.asarray
    if isinstance(convert, tuple) and len(convert) == 2 and all(map(callable, convert)):
        return convert
    raise ValueError(f"convert must be None, 'numpy', 'torch', 'jax', a callable or a pair of callables, "
                     f"got {convert!r}")


@dataclass
class Context:
    """What a property needs: the adapted implementation, the dtype, the axis it reduces, and kind options."""

    fns: dict[str, Callable]
    dtype: np.dtype
    axis: int
    to_impl: Callable
    to_numpy: Callable
    batched: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def call(self, name: str, *arrays, row_axis: bool = True, dtype=None):
        """Call implementation ``name`` on NumPy arrays of ``dtype`` (default ``self.dtype``) whose last axis is
        the reduced one. The last axis is moved to ``self.axis`` before the call (and the result's back)."""
        fn = self.fns[name]
        args = []
        for a in arrays:
            a = np.asarray(a, dtype=self.dtype if dtype is None else dtype)
            if row_axis and a.ndim > 1:
                a = np.moveaxis(a, -1, self.axis)
            args.append(self.to_impl(np.ascontiguousarray(a)))
        out = self.to_numpy(fn(*args))
        out = np.asarray(out)
        if row_axis and out.ndim > 1 and out.ndim == np.ndim(arrays[0]):
            out = np.moveaxis(out, self.axis, -1)
        return out

    @property
    def tol(self) -> tuple[float, float]:
        return default_tolerance(self.dtype)


def compare(got, expected, ctx: Context, what: str, *, scale: float = 1.0, atol_scale: float | None = None) -> None:
    """Raise :class:`Mismatch` unless ``got`` matches ``expected`` within the dtype's tolerances times ``scale``.

    Infinities must match exactly; NaN never matches.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise Mismatch(f"{what}: shape {got.shape}, expected {expected.shape}", expected, got, ctx.dtype)
    rtol, atol = ctx.tol
    atol = atol * (scale if atol_scale is None else atol_scale)
    finite = np.isfinite(expected)
    bad = np.isnan(got) | (~finite & (got != expected))
    bad |= finite & ~(np.abs(got - expected) <= atol + rtol * scale * np.abs(expected))
    if bad.any():
        raise Mismatch(f"{what} differs", expected, got, ctx.dtype)


def check_that(condition: bool, message: str, expected=None, got=None, dtype=np.float64) -> None:
    if not condition:
        raise Mismatch(message, expected, got, dtype)


@dataclass(frozen=True)
class Property:
    """A named property: ``strategy(ctx)`` draws examples, ``test(ctx, example)`` raises Mismatch on failure.

    ``skip(ctx)`` returns a reason when the property does not apply (or None).
    """

    name: str
    doc: str
    strategy: Callable
    test: Callable
    skip: Callable = lambda ctx: None


def run_property(prop: Property, ctx: Context, examples: int, seed: int) -> PropertyResult:
    """Run one property with Hypothesis and turn its outcome into a :class:`PropertyResult`."""
    hypothesis = require_hypothesis()
    from hypothesis import HealthCheck, Verbosity, given, settings
    from hypothesis.reporting import with_reporter

    reason = prop.skip(ctx)
    if reason:
        return PropertyResult(prop.name, "skipped", reason=reason, doc=prop.doc)
    last: dict = {}

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis.seed(seed)
    @given(prop.strategy(ctx))
    def run(example):
        try:
            with np.errstate(all="ignore"):
                prop.test(ctx, example)
        except Mismatch as mismatch:
            last.update(example=example, mismatch=mismatch)
            raise
        except Exception as error:  # the implementation crashed: a failure of this property, reported as such
            if isinstance(error, hypothesis.errors.UnsatisfiedAssumption):
                raise
            last.update(example=example, mismatch=Mismatch(f"raised {type(error).__name__}: {error}"))
            raise

    start = time.perf_counter()
    try:
        with with_reporter(lambda message: None):
            run()
    except hypothesis.errors.Unsatisfiable:
        return PropertyResult(prop.name, "skipped", reason="no valid example could be generated", doc=prop.doc,
                              seconds=time.perf_counter() - start)
    except Exception as error:
        mismatch = last.get("mismatch") or Mismatch(f"{type(error).__name__}: {error}")
        return _failure(prop, mismatch, last.get("example"), time.perf_counter() - start)
    return PropertyResult(prop.name, "passed", reason=prop.doc, doc=prop.doc, seconds=time.perf_counter() - start)


def _failure(prop: Property, mismatch: Mismatch, example, seconds: float) -> PropertyResult:
    ulps = rel = None
    if mismatch.expected is not None and mismatch.got is not None:
        ulps, rel = error_measures(mismatch.got, mismatch.expected, mismatch.dtype)
    return PropertyResult(prop.name, "failed", reason=mismatch.message, doc=prop.doc, counterexample=plain(example),
                          expected=plain(mismatch.expected), got=plain(mismatch.got), max_ulps=ulps,
                          max_rel=rel, seconds=seconds)


def run_properties(kind: str, target: str, props: list[Property], ctx: Context, *, examples: int, seed: int,
                   properties: list[str] | None = None) -> CheckReport:
    """Run ``props`` (or the subset named in ``properties``) and collect a :class:`CheckReport`."""
    names = [p.name for p in props]
    unknown = sorted(set(properties or ()) - set(names))
    if unknown:
        raise ValueError(f"unknown properties {unknown} for {kind!r}; properties are {names}")
    if not (isinstance(examples, (int, np.integer)) and examples >= 1):
        raise ValueError(f"examples must be a positive integer, got {examples!r}")
    report = CheckReport(kind=kind, target=target, dtype=str(ctx.dtype))
    for prop in props:
        if properties is None or prop.name in properties:
            report.results.append(run_property(prop, ctx, int(examples), int(seed)))
        else:
            report.results.append(PropertyResult(prop.name, "skipped", reason="not selected", doc=prop.doc))
    return report


def make_context(fns: dict[str, Callable | None], *, dtype, axis: int, convert, batched: bool = True,
                 **options) -> Context:
    """Validate the common options and build a :class:`Context`."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    for name, fn in fns.items():
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if not isinstance(axis, (int, np.integer)) or axis not in (-1, 0, 1):
        raise ValueError(f"axis must be -1, 0 or 1 (the axis the implementation reduces on 2-D input), got {axis!r}")
    to_impl, to_numpy = converter(convert)
    return Context({k: v for k, v in fns.items() if v is not None}, dtype, int(axis), to_impl, to_numpy,
                   batched, options)


def target_name(fn) -> str:
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}:{name}" if module else name
