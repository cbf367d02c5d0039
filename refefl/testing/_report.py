"""What a check returns: one verdict per named property, with the minimal counterexample and the error found."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

VERDICTS = ("passed", "failed", "skipped")


@dataclass
class PropertyResult:
    """The verdict of one property.

    ``counterexample`` is the minimal input Hypothesis found (as nested lists), ``expected``/``got`` the values
    compared there, ``max_ulps`` and ``max_rel`` the largest error in units in the last place of the dtype and
    relative to ``max(|expected|, tiny)``; ``reason`` says why a property was skipped or what failed.

    Examples
    --------
    >>> from refefl.projections import sparsemax
    >>> from refefl.testing import check_prediction_map
    >>> result = check_prediction_map(sparsemax, "sparsemax", examples=5).results[0]
    >>> print(result.name, result.verdict, result.passed)
    agrees_with_refefl passed True
    """

    name: str
    verdict: str
    reason: str = ""
    doc: str = ""
    counterexample: object = None
    expected: object = None
    got: object = None
    max_ulps: float | None = None
    max_rel: float | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass
class CheckReport:
    """Per-property results of one ``check_*`` call on one implementation.

    ``raise_for_failures()`` raises ``AssertionError`` with :meth:`table` when any property failed.

    Examples
    --------
    >>> from refefl.projections import sparsemax
    >>> from refefl.testing import check_prediction_map
    >>> report = check_prediction_map(sparsemax, "sparsemax", examples=5)
    >>> print(report.ok, len(report.failures))
    True 0
    >>> report.raise_for_failures()
    """

    kind: str
    target: str
    dtype: str
    results: list[PropertyResult] = field(default_factory=list)

    @property
    def failures(self) -> list[PropertyResult]:
        return [r for r in self.results if r.verdict == "failed"]

    @property
    def ok(self) -> bool:
        """True when no property failed (skipped ones do not count against the implementation)."""
        return not self.failures

    def __getitem__(self, name: str) -> PropertyResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no property named {name!r}; properties: {[r.name for r in self.results]}")

    def table(self, *, width: int = 70) -> str:
        """A plain-text table: property, verdict, counterexample (or reason), error."""
        lines = [f"{self.kind} check of {self.target} ({self.dtype}): "
                 f"{sum(r.passed for r in self.results)} passed, {len(self.failures)} failed, "
                 f"{sum(r.verdict == 'skipped' for r in self.results)} skipped"]
        name_width = max([len(r.name) for r in self.results] + [8])
        for r in self.results:
            detail = r.reason if r.verdict != "failed" else f"{r.reason} at {short(r.counterexample, width)}"
            if r.verdict == "failed" and r.expected is not None:
                detail += f"; expected {short(r.expected, width)}, got {short(r.got, width)}"
            error = "" if r.max_rel is None else f"  [rel {r.max_rel:.2g}, {r.max_ulps:.3g} ulps]"
            lines.append(f"  {r.name:<{name_width}}  {r.verdict:<7}  {detail}{error}".rstrip())
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise ``AssertionError`` with the report table if any property failed."""
        if self.failures:
            raise AssertionError("\n" + self.table(width=400))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "target": self.target, "dtype": self.dtype, "ok": self.ok,
                "results": [asdict(r) for r in self.results]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)


def _jsonable(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def plain(value):
    """Arrays (and tuples of them) as nested lists of Python floats, for the report and JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def short(value, width: int) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def error_measures(got: np.ndarray, expected: np.ndarray, dtype) -> tuple[float, float]:
    """Largest error in ulps of ``dtype`` (spacing at ``expected``) and relative to ``max(|expected|, tiny)``."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return float("inf"), float("inf")
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    diff = np.where(same, 0.0, np.abs(got - expected))
    if not np.isfinite(diff).all():
        return float("inf"), float("inf")
    info = np.finfo(dtype)
    with np.errstate(over="ignore"):
        return _ulps_and_rel(diff, expected, dtype, info)


def _ulps_and_rel(diff, expected, dtype, info):
    ulp = np.spacing(np.abs(expected).astype(dtype)).astype(np.float64)
    ulps = diff / np.maximum(ulp, float(info.smallest_subnormal))
    rel = diff / np.maximum(np.abs(expected), float(info.tiny))
    return float(ulps.max(initial=0.0)), float(rel.max(initial=0.0))
