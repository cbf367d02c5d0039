"""Hypothesis profiles and the backend fixture shared by every test.

Profiles: ``ci`` (derandomized, 200 examples per property, no deadline) and ``dev`` (quick, 30 examples).
``HYPOTHESIS_PROFILE`` picks one; without it, ``ci`` is used when the ``CI`` environment variable is set.
"""
import os

# One BLAS thread: the tests' matrix products are small, and a second BLAS thread on a busy 2-core machine made
# oracle solves (scipy L-BFGS-B) ten times slower. Set before NumPy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from refefl import _backend  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# "ext" only where it can run: built, and not forbidden by REFEFL_PURE_NUMPY=1 (asking for it then is an error)
BACKENDS = ["numpy", "ext"] if _backend.ext_runs() else ["numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run a test once per available backend ("numpy" always, "ext" when refefl_ext is built and allowed)."""
    return request.param
