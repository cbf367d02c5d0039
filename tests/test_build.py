"""The compiled extension is present when it must be, and the backend switch obeys its rules."""
import os

import numpy as np
import pytest

import refefl
from refefl import _backend


def test_extension_built_when_required():
    """CI sets REFEFL_REQUIRE_EXT=1: a missing refefl_ext must fail the run, not silently fall back."""
    if os.environ.get("REFEFL_REQUIRE_EXT") == "1":
        assert refefl.HAVE_EXT, "refefl_ext did not build or import"


def test_every_twin_has_a_compiled_kernel():
    if not refefl.HAVE_EXT:
        pytest.skip("refefl_ext is not built")
    for name in _backend.TWINS:
        assert callable(_backend.ext_kernel(name)), name


def test_pure_numpy_env_forces_numpy(monkeypatch):
    func = _backend.TWINS["isotonic_l2"]
    monkeypatch.setenv("REFEFL_PURE_NUMPY", "1")
    assert _backend.select(func, "auto") is func


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="backend"):
        refefl.isotonic_regression(np.ones(3), backend="gpu")
