"""refefl.energies.project_zero_diagonal_bounded called directly: what it accepts, what it leaves alone, its dtype
(its optimality through the estimators' model: tests/test_estimators.py::test_projection_is_feasible_and_optimal)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refefl.energies import project_zero_diagonal_bounded


@given(seed=st.integers(0, 2**32 - 1), bound=st.sampled_from([0.5, 2.0]))
def test_projection_leaves_its_input_alone_and_is_idempotent(seed, bound):
    a = np.random.default_rng(seed).normal(0, 3, (5, 5))
    before = a.copy()
    p = project_zero_diagonal_bounded(a, bound)
    assert np.array_equal(a, before)
    assert not np.diag(p).any() and np.linalg.eigvalsh(p)[-1] <= bound * (1 + 1e-8)
    np.testing.assert_allclose(project_zero_diagonal_bounded(p, bound), p, atol=1e-9 * (1 + np.abs(p).max()))


def test_the_two_by_two_case_clips_the_off_diagonal_entry():
    """diag X = 0 leaves X = [[0, x], [x, 0]] with eigenvalues ±x: the projection of [[d, s], [s, d]] is x = min(s, c)."""
    for s, c in [(3.0, 1.0), (0.5, 1.0), (-4.0, 2.0)]:
        p = project_zero_diagonal_bounded(np.array([[1.0, s], [s, -2.0]]), c)
        np.testing.assert_allclose(p, [[0.0, np.clip(s, -c, c)], [np.clip(s, -c, c), 0.0]], atol=1e-9)


def test_float32_in_float32_out():
    a = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    p = project_zero_diagonal_bounded(a, 1.0)
    assert p.dtype == np.float32 and not np.diag(p).any()


@pytest.mark.parametrize("a, bound, message", [
    (np.ones(3), 1.0, "square matrix"),
    (np.ones((2, 3)), 1.0, "square matrix"),
    (np.array([[0.0, np.nan], [np.nan, 0.0]]), 1.0, "a must be finite"),
    (np.zeros((2, 2)), 0.0, "bound must be a finite positive"),
    (np.zeros((2, 2)), -1.0, "bound must be a finite positive"),
])
def test_bad_input_is_named(a, bound, message):
    with pytest.raises(ValueError, match=message):
        project_zero_diagonal_bounded(a, bound)
