"""Every compiled kernel in refefl_ext equals its NumPy twin (same name, same signature).

Each entry of ``CASES`` says how to call one twin pair on a batch of rows ``x`` (C-contiguous, float32 or
float64): ``make_args(x)`` returns the positional arguments with fresh output buffers, ``outputs(args, result)``
the arrays to compare. Inputs cover random rows, ties, −inf (where the kernel accepts it), and magnitudes up to
1e300 (float64) and 1e8 (float32). A test checks that every registered twin has an entry here.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit

import refefl
import refefl.gda  # noqa: F401  (not imported by refefl itself; registers the GDA twins)
import refefl.partition  # noqa: F401  (likewise: registers the log-permanent and Plackett-Luce twins)
from refefl import _backend
from refefl.testing import default_tolerance

pytestmark = pytest.mark.skipif(not _backend.HAVE_EXT, reason="refefl_ext is not built")


def _buffers(x, *extra_int_widths):
    return np.empty_like(x), *[np.empty((x.shape[0], x.shape[1] + w), dtype=np.intp) for w in extra_int_widths]


def _isotonic_l2_args(x):
    out, starts = _buffers(x, 1)
    weights = np.linspace(0.5, 2.0, x.size).reshape(x.shape).astype(x.dtype)
    return (x / max(1.0, np.abs(x).max() * x.shape[1] * 2.0**-1000), weights, out, starts,
            np.empty(x.shape[0], np.intp), True)


def _isotonic_kl_args(x):
    out, starts = _buffers(x, 1)
    scale = max(1.0, float(np.abs(x).max()))
    log_w = np.log(np.arange(x.shape[1], 0, -1, dtype=x.dtype))[None, :].repeat(x.shape[0], 0)
    return np.ascontiguousarray(x / scale), np.ascontiguousarray(log_w), out, starts, np.empty(x.shape[0], np.intp), False


def _permutahedron_args(x):
    # entropic for odd row lengths, Euclidean for even ones: both regularizations over the inputs
    from refefl.projections._permutahedron_kernels import descending_order

    out, starts = _buffers(x, 1)
    kl = x.shape[1] % 2 == 1
    rho = np.arange(x.shape[1], 0, -1.0)[None, :]
    return (x, descending_order(x, True, backend="numpy"), np.log(rho) if kl else rho, 0.7, kl, out, starts,
            np.empty(x.shape[0], np.intp))


def _split_keys(keys):
    return [keys >> np.uint64(32), keys & np.uint64(2**32 - 1)]  # exact in float64, unlike 64-bit integers


def _status(x):
    return np.full(x.shape[0], -1, dtype=np.int8)  # every row's status is written (-1 is no status)


def _capped_s(x):
    # s must not exceed the number of finite scores of any row: 2.5, or the point case on short rows
    return float(min(2.5, np.isfinite(x).sum(axis=1).min()))


def _capped_entropic_outputs(args, result):
    # ŷ = σ(u) and 1 − ŷ = σ(−u), as the margins u are determined only as well as σ resolves them (where every
    # σ saturates, τ ranges over a whole interval on which the rounded sums equal s), and convergence
    return [args[2], expit(-args[3]), np.array(result[3]), args[5]]


def _coordinate_args(x, entropic=None, shared=None):
    # θ: the first (at most 24) columns of x; a symmetric A with entries ~ N(0, 1/k) and a diagonal below the bound
    # (a third of it 0: the closed-form update), shared or one per row; a random start in [0, 1]^k. Defaults:
    # binary entropy on batches of odd length, A shared on rows of even length (all four pairs over _inputs)
    entropic = x.shape[0] % 2 == 1 if entropic is None else entropic
    shared = x.shape[1] % 2 == 0 if shared is None else shared
    theta = np.ascontiguousarray(x[:, :24])
    n, k = theta.shape
    rng = np.random.default_rng(k)
    b = rng.normal(size=(1 if shared else n, k, k)) / np.sqrt(k)
    a = (b + b.swapaxes(1, 2)) / 2
    diag = rng.uniform(-0.5, 0.5, size=a.shape[:2]) * (4.0 if entropic else 1.0)
    diag[:, ::3] = 0
    a[:, np.arange(k), np.arange(k)] = diag
    y0 = rng.uniform(size=theta.shape).astype(x.dtype)
    tol = float(np.sqrt(np.finfo(x.dtype).eps))
    return theta, a.astype(x.dtype), y0, entropic, 50, tol, np.empty(n, np.intp)


def _gda_args(x):
    # data: the rows of x on the unit sphere (scaled first, so that 1e300 does not overflow); walkers: the data
    # and the data reversed; 13 neurons (not a multiple of the compiled twin's vectors) of both signs; Gaussian
    # noise; the paper's steps h_x = 0.02, h_z = h_w = 0.2 and β = 1, below the masses' mean (the rescaling acts)
    rows = x / np.maximum(np.abs(x).max(axis=1, keepdims=True), np.finfo(x.dtype).tiny)
    rows[np.all(rows == 0, axis=1), 0] = 1.0
    data = np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=x.dtype)
    walkers = np.concatenate([data, data[::-1]])
    rng = np.random.default_rng(x.shape[1])
    directions = rng.normal(size=(13, x.shape[1]))
    directions = (directions / np.linalg.norm(directions, axis=1, keepdims=True)).astype(x.dtype)
    signs = np.where(np.arange(13) % 2 == 0, 1.0, -1.0).astype(x.dtype)
    masses, noise = rng.uniform(0.5, 3, size=13).astype(x.dtype), rng.normal(size=x.shape).astype(x.dtype)
    return (data, walkers, directions, signs, masses, noise, 0.02, 0.2, 0.2, 1.0, np.empty_like(walkers),
            np.empty_like(directions), np.empty_like(masses))


def _permanent_args(x):
    # one (k, k) matrix of log-entries per row, k = min(7, row length): L[b, i, j] = x[b, (i + 2j) mod length]
    k = min(7, x.shape[1])
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return np.ascontiguousarray(x[:, (i + 2 * j) % x.shape[1]]), np.empty(x.shape[0], x.dtype)


def _permanent_marginals_args(x):
    # the matrices of _permanent_args (finite) and fresh buffers for S, log per(e^S) and the marginals
    log_a, log_per = _permanent_args(x)
    return log_a, np.empty_like(log_a), log_per, np.empty_like(log_a)


def _permanent_marginals_outputs(args, result):
    # S depends on which optimal dual potentials a twin found; <S, P> of any permutation matrix P does not
    log_a, scaled, log_per, marginals = args
    rows = np.arange(log_a.shape[1])
    return [log_per, marginals, scaled[:, rows, rows].sum(axis=1), scaled[:, rows, rows[::-1]].sum(axis=1)]


def _plackett_luce_args(x):
    # the rows as scores (float64, the sampler's dtype) and three samples of Exp(1) noise per row; the "huge" rows
    # take the wide-range branch
    noise = np.random.default_rng(0).standard_exponential((x.shape[0], 3, x.shape[1]))
    return np.ascontiguousarray(x, dtype=np.float64), noise


def _adam_args(x):
    # the rows as one parameter vector w; g, m and v ≥ 0 from shifted copies (the "huge" rows: g² overflows, in
    # both twins); the step and ε̂ of Adam's defaults at t = 1
    w = x.ravel()
    outputs = [np.empty_like(w) for _ in range(3)]
    return (w, np.roll(w, 1) * 0.5, np.roll(w, 2) * 0.1, np.abs(np.roll(w, 3)), 0.9, 0.999, 1e-3 * 0.999**0.5 / 0.1,
            1e-8 * 0.001**0.5, *outputs)


# name -> (make_args, outputs to compare, whether -inf entries are allowed)
CASES = {
    "isotonic_l2": (_isotonic_l2_args, lambda a, r: [a[2], a[3][:, : 1], a[4]], False),
    "isotonic_kl": (_isotonic_kl_args, lambda a, r: [a[2], a[4]], False),
    "projection_simplex_rows": (lambda x: (x, 1.0, np.empty_like(x), _status(x)), lambda a, r: [a[2], a[3]], True),
    "entmax15_rows": (lambda x: (x, np.empty_like(x), _status(x)), lambda a, r: [a[1], a[2]], True),
    "entmax_bisect_rows": (
        lambda x: (x, 1.7, np.empty_like(x), 200, _status(x)), lambda a, r: [a[2], np.array(r[3]), a[4]], True
    ),
    "order_keys": (lambda x: (x, True, np.empty(x.shape, np.uint64)), lambda a, r: _split_keys(a[2]), False),
    "projection_capped_simplex_rows": (
        lambda x: (x, _capped_s(x), np.empty_like(x), np.empty(x.shape, np.uint8), _status(x)),
        lambda a, r: [a[2], a[3], a[4]], True
    ),
    "capped_entropic_rows": (
        lambda x: (x, _capped_s(x), np.empty_like(x), np.empty(x.shape), 200, _status(x)), _capped_entropic_outputs,
        True
    ),
    "projection_permutahedron_rows": (_permutahedron_args, lambda a, r: [a[5], a[1], a[7]], False),
    "gda_iteration": (_gda_args, lambda a, r: [a[10], a[11], a[12]], False),
    "coordinate_ascent_box": (_coordinate_args, lambda a, r: [a[2], a[6]], False),
    "log_permanent_batch": (_permanent_args, lambda a, r: [a[1]], True),
    "permanent_marginals_batch": (_permanent_marginals_args, _permanent_marginals_outputs, False),
    "plackett_luce_sample": (_plackett_luce_args, lambda a, r: list(r), False),
    "adam_update": (_adam_args, lambda a, r: [*a[8:], np.array(r)], False),
}


def _inputs(dtype):
    rng = np.random.default_rng(0)
    big = 1e300 if dtype == np.float64 else 1e8
    rows = {
        "random": rng.normal(size=(7, 11)),
        "long row": rng.normal(size=(1, 3000)),
        "many rows": rng.normal(size=(4500, 60)),  # over PARALLEL_MIN_ELEMENTS: the rows run on threads
        "ties": np.round(rng.normal(size=(6, 12))),
        "huge": rng.normal(size=(5, 9)) * big,
        "one column": rng.normal(size=(4, 1)),
    }
    return {name: np.ascontiguousarray(x, dtype=dtype) for name, x in rows.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_twins_agree_bit_for_bit(dtype):
    """The one-pass kernel makes the NumPy twin's roundings in its order (no fused multiply-add): equal bits, on
    every input of the parity test and on a run of 50 updates from zero moments."""
    numpy_kernel, ext_kernel = _backend.TWINS["adam_update"], _backend.ext_kernel("adam_update")
    for label, x in _inputs(dtype).items():
        args_numpy, args_ext = _adam_args(x), _adam_args(x)
        assert numpy_kernel(*args_numpy) == ext_kernel(*args_ext)
        for got, want in zip(args_ext[8:], args_numpy[8:]):
            np.testing.assert_array_equal(got, want, err_msg=label)
    rng = np.random.default_rng(1)
    states = {kernel: (rng.normal(size=500).astype(dtype), np.zeros(500, dtype), np.zeros(500, dtype))
              for kernel in (numpy_kernel, ext_kernel)}
    w0 = states[numpy_kernel][0]
    states[ext_kernel] = (w0.copy(), *states[ext_kernel][1:])
    for t in range(1, 51):
        g = np.sin(np.arange(500) * t).astype(dtype) * 10.0 ** (t % 7 - 3)
        step, eps_hat = 1e-2 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t), 1e-8 * np.sqrt(1 - 0.999**t)
        for kernel, (w, m, v) in states.items():
            out = [np.empty_like(w) for _ in range(3)]
            assert not kernel(w, g, m, v, 0.9, 0.999, float(step), float(eps_hat), *out)
            states[kernel] = tuple(out)
    for got, want in zip(states[ext_kernel], states[numpy_kernel]):
        np.testing.assert_array_equal(got, want)


def test_gda_iteration_rejects_walkers_that_are_not_two_per_point():
    # the compiled kernel gives walker k + N the noise of row k: other shapes would read out of bounds
    args = list(_gda_args(np.ones((4, 3))))
    args[1] = args[10] = np.full((9, 3), 3**-0.5)
    with pytest.raises(ValueError, match="2N"):
        _backend.ext_kernel("gda_iteration")(*args)


def test_every_twin_has_a_parity_case():
    assert set(_backend.TWINS) <= set(CASES), sorted(set(_backend.TWINS) - set(CASES))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_equals_numpy_twin(name, dtype):
    if name not in _backend.TWINS:
        pytest.skip(f"{name} has no registered NumPy twin yet")
    make_args, outputs, allow_neg_inf = CASES[name]
    numpy_kernel, ext_kernel = _backend.TWINS[name], _backend.ext_kernel(name)
    rtol, atol = default_tolerance(dtype)
    for label, x in _inputs(dtype).items():
        if allow_neg_inf and x.shape[1] > 1:
            x = x.copy()
            x[::2, 0] = -np.inf
        x.setflags(write=False)
        args_numpy, args_ext = make_args(x), make_args(x)
        result_numpy, result_ext = numpy_kernel(*args_numpy), ext_kernel(*args_ext)
        for got, want in zip(outputs(args_ext, result_ext), outputs(args_numpy, result_numpy)):
            scale = float(np.max(np.abs(want[np.isfinite(want)]), initial=1.0))
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=f"{name}, {label}")


# the score kernels check the rows themselves: a status per row, equal in both twins, on invalid rows as well
SCORE_KERNELS = {
    "projection_simplex_rows": lambda x, status: (x, 1.0, np.empty_like(x), status),
    "entmax15_rows": lambda x, status: (x, np.empty_like(x), status),
    "entmax_bisect_rows": lambda x, status: (x, 1.7, np.empty_like(x), 200, status),
    "projection_capped_simplex_rows": lambda x, status: (x, 2.5, np.empty_like(x), np.empty(x.shape, np.uint8),
                                                         status),
    "capped_entropic_rows": lambda x, status: (x, 2.5, np.empty_like(x), np.empty(x.shape), 200, status),
}


@pytest.mark.parametrize("name", sorted(SCORE_KERNELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_rows", [9, 40000])  # one thread, and rows split across threads
def test_score_kernels_report_the_same_row_status(name, dtype, n_rows):
    from refefl._validation import SCORES_NAN, SCORES_OK, SCORES_POS_INF, SCORES_TOO_FEW_FINITE

    x = np.random.default_rng(1).normal(size=(n_rows, 13)).astype(dtype)
    x[1, 5] = np.nan
    x[2, 0] = np.inf
    x[3, 1], x[3, 7] = np.nan, np.inf  # NaN wins
    x[4] = -np.inf
    x[5, 2:] = -np.inf  # two finite scores: enough for s = 1, too few for s = 2.5
    x[6, 12] = -np.inf  # valid
    x[-1, -1] = np.nan  # the last row, on the last thread
    expected = np.full(n_rows, SCORES_OK, dtype=np.int8)
    expected[[1, 3, n_rows - 1]] = SCORES_NAN
    expected[2] = SCORES_POS_INF
    expected[4] = SCORES_TOO_FEW_FINITE
    if name.startswith(("projection_capped", "capped")):
        expected[5] = SCORES_TOO_FEW_FINITE
    for kernel in (_backend.TWINS[name], _backend.ext_kernel(name)):
        status = np.full(n_rows, -1, dtype=np.int8)
        with np.errstate(all="ignore"):
            kernel(*SCORE_KERNELS[name](x, status))
        np.testing.assert_array_equal(status, expected, err_msg=f"{name} ({kernel.__module__})")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simplex_kernel_splits_one_long_row_exactly(dtype):
    # a single row over PARALLEL_MIN_ELEMENTS is cut into pieces that the threads share: same result and status
    from refefl._validation import SCORES_NAN, SCORES_OK, SCORES_POS_INF, SCORES_TOO_FEW_FINITE

    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=(1, 300_001)) * 50).astype(dtype)  # many ties
    x[0, ::3] = -np.inf
    x[0, -1] = x.max() + 0.25  # the maximum in the last, shortest piece
    rtol, atol = default_tolerance(dtype)
    for bad, code in [(None, SCORES_OK), (np.nan, SCORES_NAN), (np.inf, SCORES_POS_INF),
                      (-np.inf, SCORES_TOO_FEW_FINITE)]:
        row = x.copy()
        if code == SCORES_TOO_FEW_FINITE:
            row[:] = -np.inf
        elif bad is not None:
            row[0, -2] = bad
        outs = []
        for kernel in (_backend.TWINS["projection_simplex_rows"], _backend.ext_kernel("projection_simplex_rows")):
            out, status = np.empty_like(row), np.full(1, -1, np.int8)
            kernel(row, 1.0, out, status)
            assert status[0] == code, kernel
            outs.append(out)
        if code == SCORES_OK:
            np.testing.assert_allclose(outs[1], outs[0], rtol=rtol, atol=atol)
            assert outs[1][0, -1] > 0 and abs(outs[1].sum() - 1) < 1e-5


@pytest.mark.parametrize("entropic", [True, False])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_coordinate_ascent_twins_agree_on_every_variant(entropic, shared, dtype):
    # both regularizers with A shared and per row, on a batch large enough to run on threads
    x = np.random.default_rng(5).normal(size=(2000, 12)).astype(dtype)
    x[::7] *= 20  # saturated rows as well
    args_numpy, args_ext = _coordinate_args(x, entropic, shared), _coordinate_args(x, entropic, shared)
    _backend.TWINS["coordinate_ascent_box"](*args_numpy)
    _backend.ext_kernel("coordinate_ascent_box")(*args_ext)
    rtol, atol = default_tolerance(dtype)
    np.testing.assert_allclose(args_ext[2], args_numpy[2], rtol=rtol, atol=atol)
    np.testing.assert_array_equal(args_ext[6], args_numpy[6])
    assert (args_numpy[6] > 1).any()


@pytest.mark.parametrize("omega", ["binary_entropy", "box_squared"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_coordinate_ascent_backends_agree_on_strided_input(omega, dtype):
    from refefl import energies, maximizers

    rng = np.random.default_rng(3)
    theta = np.asfortranarray(rng.normal(size=(40, 14)).astype(dtype))[:, ::2]  # non-contiguous
    b = rng.normal(size=(7, 7)) / 3
    params = (theta, (b + b.T - np.diag(np.diag(b + b.T))).astype(dtype))
    regularizer = refefl.regularizer(omega)
    got, info_ext = maximizers.CoordinateAscent(backend="ext").maximize(energies.Quadratic(), regularizer, params)
    want, info_np = maximizers.CoordinateAscent(backend="numpy").maximize(energies.Quadratic(), regularizer, params)
    assert got.dtype == want.dtype == dtype and info_ext.iterations == info_np.iterations > 1
    rtol, atol = default_tolerance(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    with pytest.raises(ValueError, match="backend"):
        maximizers.CoordinateAscent(backend="fortran")


# Public functions with a backend switch, called on awkward layouts: both backends must agree.
PUBLIC = {
    "sparsemax": lambda x, b: refefl.sparsemax(x, axis=1, backend=b),
    "projection_simplex r=3": lambda x, b: refefl.projection_simplex(x, 3.0, axis=1, backend=b),
    "entmax 1.5": lambda x, b: refefl.entmax(x, 1.5, axis=1, backend=b),
    "entmax 1.25 bisect": lambda x, b: refefl.entmax(x, 1.25, axis=1, backend=b),
    "entmax 3 bisect": lambda x, b: refefl.entmax(x, 3.0, axis=1, backend=b),
    "isotonic": lambda x, b: refefl.isotonic_regression(x, axis=1, backend=b),
    "capped simplex s=2": lambda x, b: refefl.projection_capped_simplex(x, 2, axis=1, backend=b),
    "capped entropic s=2.5": lambda x, b: refefl.capped_simplex_entropic(x, 2.5, axis=1, backend=b),
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_public_backends_agree_on_strided_readonly_fortran_input(name, dtype, data):
    func = PUBLIC[name]
    x = data.draw(hnp.arrays(dtype, (3, 9, 4), elements=st.floats(-50, 50, width=np.dtype(dtype).itemsize * 8)))
    x = np.asfortranarray(x)[:, ::2]  # non-contiguous, Fortran-ordered
    x.setflags(write=False)
    before = x.copy()
    got, want = func(x, "ext"), func(x, "numpy")
    np.testing.assert_array_equal(x, before)
    assert got.dtype == want.dtype == dtype
    rtol, atol = default_tolerance(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, float(np.abs(want).max())))
