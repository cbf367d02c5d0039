"""pytest integration: one test per property, named after it (the shape of scikit-learn's parametrize_with_checks)."""
from __future__ import annotations

from collections.abc import Callable

from refefl.testing._kinds import get_kind, property_names


def parametrize_checks(fn: Callable, kind: str, **options):
    """A ``pytest.mark.parametrize`` over the properties of ``kind``, each a zero-argument ``check`` callable.

    Each ``check()`` runs one property of ``refefl.testing.<check for kind>(fn, **options)`` and raises
    ``AssertionError`` with the report if it fails; the test ids are the property names::

        @parametrize_checks(my_sparsemax, kind="sparsemax", examples=50)
        def test_my_sparsemax(check):
            check()

    ``kind`` is one of ``python -m refefl check --list``; ``options`` are those of the check (``dtype``,
    ``examples``, ``seed``, ``convert``, ``axis``, ``batched``, ...).

    Examples
    --------
    >>> from refefl.projections import sparsemax
    >>> from refefl.testing import parametrize_checks
    >>> mark = parametrize_checks(sparsemax, kind="sparsemax", examples=5)
    >>> print(mark.name, mark.args[0])
    parametrize check
    >>> check = mark.args[1][0]
    >>> check()
    """
    import pytest

    spec = get_kind(kind)
    names = [name for name, _ in property_names(kind, **{k: v for k, v in options.items() if k != "examples"})]

    def make(name: str) -> Callable:
        def check() -> None:
            report = spec.run(fn, properties=[name], **options)
            if report[name].verdict == "skipped":
                pytest.skip(report[name].reason)
            report.raise_for_failures()

        check.__name__ = f"check_{name}"
        return check

    return pytest.mark.parametrize("check", [make(name) for name in names], ids=names)
