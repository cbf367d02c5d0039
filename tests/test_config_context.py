"""refefl.config_context: the backend it sets reaches every public function, regularizer, loss and maximizer left
at backend="auto"; contexts nest and restore (on exceptions too), per thread; a backend that cannot run is an error.

Which backend ran is observed, not assumed: ``refefl_ext`` is replaced by a proxy that counts the compiled kernels
``refefl._backend.select`` hands out.
"""
import threading
from collections import Counter

import numpy as np
import pytest

import refefl
from refefl import _backend
from refefl.energies import Quadratic
from refefl.losses import FenchelYoungLoss, GeneralizedFenchelYoungLoss
from refefl.maximizers import CoordinateAscent
from refefl.partition import log_permanent
from refefl.projections._simplex import projection_simplex_rows
from refefl.regularizers import BinaryEntropy, regularizer
from refefl.testing import default_tolerance

needs_ext = pytest.mark.skipif(not _backend.ext_runs(), reason="refefl_ext is not built, or REFEFL_PURE_NUMPY=1")


class _CountingExt:
    """Stands for the module refefl_ext: each kernel taken from it counts its calls under its name."""

    def __init__(self, ext):
        self._ext, self.calls = ext, Counter()

    def __getattr__(self, name):
        kernel = getattr(self._ext, name)

        def counted(*args):
            self.calls[name] += 1
            return kernel(*args)

        return counted


@pytest.fixture
def ext_calls(monkeypatch):
    spy = _CountingExt(_backend._ext)
    monkeypatch.setattr(_backend, "_ext", spy)
    return spy.calls


def _data():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(6, 5))
    onehot = np.eye(5)[rng.integers(0, 5, size=6)]
    capped = np.zeros((6, 5))
    capped[:, :2] = 1.0
    ranks = np.argsort(rng.normal(size=(6, 5)), axis=1) + 1.0
    a = -0.3 * np.eye(5)[::-1] * (1 - np.eye(5))
    return theta, onehot, capped, ranks, a


# (name, the compiled kernel it must reach, a call with no backend argument)
CASES = [
    ("sparsemax regularizer", "projection_simplex_rows", lambda d: regularizer("sparsemax").predict(d[0])),
    ("1.5-entmax regularizer", "entmax15_rows", lambda d: regularizer("tsallis", alpha=1.5).predict(d[0])),
    ("capped entropy regularizer", "capped_entropic_rows",
     lambda d: regularizer("capped_entropy", s=2).predict(d[0])),
    ("FY loss, capped squared", "projection_capped_simplex_rows",
     lambda d: FenchelYoungLoss(regularizer("capped_squared", s=2)).value_and_grad(d[0], d[2])),
    ("FY loss, entropic permutahedron", "projection_permutahedron_rows",
     lambda d: FenchelYoungLoss(regularizer("perm_entropy")).value_and_grad(d[0], d[3])),
    ("generalized FY loss, coordinate ascent", "coordinate_ascent_box",
     lambda d: GeneralizedFenchelYoungLoss(Quadratic(), BinaryEntropy(), CoordinateAscent(max_iter=500))
     .value_and_grad((d[0], d[4]), d[1] * 0.8 + 0.1)),
    ("isotonic regression", "isotonic_l2", lambda d: refefl.isotonic_regression(d[0])),
    ("soft rank, kl", "order_keys", lambda d: refefl.soft_rank(d[0], regularization="kl")),
    ("log permanent", "log_permanent_batch", lambda d: log_permanent(d[0][:5])),
]


def _flat(result):
    """The arrays of a result: an array, or a tuple of results (a value and a gradient pytree)."""
    return [a for r in result for a in _flat(r)] if isinstance(result, tuple) else [np.asarray(result, float)]


@needs_ext
@pytest.mark.parametrize("name, kernel, call", CASES, ids=[c[0] for c in CASES])
def test_context_picks_the_backend_of_every_layer(name, kernel, call, ext_calls):
    data = _data()
    with refefl.config_context(backend="numpy"):
        result_numpy = _flat(call(data))
    assert not ext_calls, f"{name}: compiled kernels ran inside config_context(backend='numpy'): {dict(ext_calls)}"
    with refefl.config_context(backend="ext"):
        result_ext = _flat(call(data))
    assert ext_calls[kernel] > 0, f"{name}: {kernel} did not run inside config_context(backend='ext')"
    rtol, atol = default_tolerance(np.float64)
    for got, want in zip(result_ext, result_numpy):  # the parity tests' tolerances
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, np.abs(want).max()), err_msg=name)


@pytest.mark.parametrize("backend", ["numpy"] + (["ext"] if _backend.ext_runs() else []))
def test_context_equals_the_explicit_argument(backend):
    theta = _data()[0]
    with refefl.config_context(backend=backend):
        inside = [refefl.sparsemax(theta), refefl.entmax(theta), refefl.soft_sort(theta, regularization="kl"),
                  refefl.projection_capped_simplex(theta, 2.0), refefl.isotonic_regression_kl(theta, theta[::-1])]
    explicit = [refefl.sparsemax(theta, backend=backend), refefl.entmax(theta, backend=backend),
                refefl.soft_sort(theta, regularization="kl", backend=backend),
                refefl.projection_capped_simplex(theta, 2.0, backend=backend),
                refefl.isotonic_regression_kl(theta, theta[::-1], backend=backend)]
    for got, want in zip(inside, explicit):
        np.testing.assert_array_equal(got, want)


@needs_ext
def test_an_explicit_argument_wins_over_the_context(ext_calls):
    theta = _data()[0]
    with refefl.config_context(backend="numpy"):
        refefl.sparsemax(theta, backend="ext")
    assert ext_calls["projection_simplex_rows"] == 1
    with refefl.config_context(backend="ext"):
        refefl.sparsemax(theta, backend="numpy")
    assert ext_calls["projection_simplex_rows"] == 1


def test_nesting_restores_the_outer_backend():
    inner = "ext" if _backend.ext_runs() else "auto"
    assert refefl.get_config() == {"backend": "auto"}
    with refefl.config_context(backend="numpy"):
        with refefl.config_context(backend=inner):
            assert refefl.get_config()["backend"] == inner
            with refefl.config_context():  # None: unchanged
                assert refefl.get_config()["backend"] == inner
        assert refefl.get_config()["backend"] == "numpy"
        assert _backend.select(projection_simplex_rows) is projection_simplex_rows
    assert refefl.get_config() == {"backend": "auto"}


def test_an_exception_restores_the_backend():
    with pytest.raises(ZeroDivisionError):
        with refefl.config_context(backend="numpy"):
            with refefl.config_context(backend="auto"):
                1 / 0
    assert refefl.get_config() == {"backend": "auto"}
    with refefl.config_context(backend="numpy"):
        with pytest.raises(KeyError):
            with refefl.config_context(backend="auto"):
                raise KeyError("x")
        assert refefl.get_config()["backend"] == "numpy"


@pytest.mark.parametrize("bad", ["gpu", "cython", "NUMPY", 1, ""])
def test_an_unknown_backend_is_an_error_naming_it(bad):
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'numpy', 'ext'\)"):
        with refefl.config_context(backend=bad):
            pass
    assert refefl.get_config() == {"backend": "auto"}


def test_ext_without_the_extension_is_an_error(monkeypatch):
    monkeypatch.setattr(_backend, "HAVE_EXT", False)
    monkeypatch.setattr(_backend, "_ext", None)
    with pytest.raises(ValueError, match="backend='ext'.*refefl_ext did not load"):
        with refefl.config_context(backend="ext"):
            pass
    with pytest.raises(ValueError, match="backend='ext'.*refefl_ext did not load"):
        refefl.sparsemax(np.ones(3), backend="ext")
    with pytest.raises(ValueError, match="backend='ext'"):
        CoordinateAscent(backend="ext")
    with refefl.config_context(backend="auto"):  # auto never asks for ext: NumPy runs
        np.testing.assert_allclose(refefl.sparsemax(np.array([1.0, 0.0])), [1.0, 0.0])


def test_pure_numpy_env_var(monkeypatch, ext_calls):
    """REFEFL_PURE_NUMPY=1 makes "auto" (of the context and of the argument) NumPy, and forbids "ext"."""
    monkeypatch.setenv("REFEFL_PURE_NUMPY", "1")
    theta = _data()[0]
    refefl.sparsemax(theta)
    with refefl.config_context(backend="auto"):
        regularizer("sparsemax").predict(theta)
    with refefl.config_context(backend="numpy"):
        refefl.sparsemax(theta)
    assert not ext_calls
    with pytest.raises(ValueError, match="backend='ext'.*REFEFL_PURE_NUMPY=1"):
        with refefl.config_context(backend="ext"):
            pass
    with pytest.raises(ValueError, match="backend='ext'.*REFEFL_PURE_NUMPY=1"):
        refefl.sparsemax(theta, backend="ext")
    assert refefl.get_config() == {"backend": "auto"}


@needs_ext
def test_pure_numpy_set_inside_an_ext_context_is_an_error_at_the_call(monkeypatch):
    with refefl.config_context(backend="ext"):
        monkeypatch.setenv("REFEFL_PURE_NUMPY", "1")
        with pytest.raises(ValueError, match=r"config_context\(backend=\.\.\.\)='ext'.*REFEFL_PURE_NUMPY=1"):
            refefl.sparsemax(np.ones(3))


def test_the_context_is_per_thread():
    """A context in one thread is not seen by another, nor by a thread started inside it."""
    auto_kernel = _backend.select(projection_simplex_rows)
    barrier, seen = threading.Barrier(2, timeout=10), {}

    def inside():
        with refefl.config_context(backend="numpy"):
            barrier.wait()  # the other thread reads its config now
            seen["inside"] = refefl.get_config()["backend"], _backend.select(projection_simplex_rows)
            child = threading.Thread(target=lambda: seen.setdefault("child", refefl.get_config()["backend"]))
            child.start()
            child.join()
            barrier.wait()
        seen["inside after"] = refefl.get_config()["backend"]

    def outside():
        barrier.wait()
        seen["outside"] = refefl.get_config()["backend"], _backend.select(projection_simplex_rows)
        barrier.wait()

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["inside"] == ("numpy", projection_simplex_rows)
    assert seen["outside"] == ("auto", auto_kernel)
    assert seen["child"] == "auto"
    assert seen["inside after"] == "auto"
    assert refefl.get_config() == {"backend": "auto"}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_the_experiments_units_run_under_the_callers_context(n_jobs):
    """run_units carries the context into its worker processes, where it would otherwise start at "auto"."""
    from refefl.experiments._protocol import run_units

    with refefl.config_context(backend="numpy"):
        configs = run_units(refefl.get_config, [()] * 3, n_jobs=n_jobs, progress=False)
    assert configs == [{"backend": "numpy"}] * 3
    assert run_units(refefl.get_config, [()], n_jobs=n_jobs, progress=False) == [{"backend": "auto"}]


def _thread_budget() -> dict:
    from threadpoolctl import threadpool_info

    return {info["user_api"]: info["num_threads"] for info in threadpool_info()}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_every_unit_runs_with_one_blas_and_one_openmp_thread(n_jobs):
    """In this process (n_jobs=1) as in a worker: the same thread budget, so the same summation order."""
    pytest.importorskip("threadpoolctl")
    from refefl.experiments._protocol import run_units

    pytest.importorskip("refefl_ext")  # loads the kernels' OpenMP runtime
    budgets = run_units(_thread_budget, [()] * 2, n_jobs=n_jobs, progress=False)
    assert all(set(budget.values()) == {1} for budget in budgets), budgets
