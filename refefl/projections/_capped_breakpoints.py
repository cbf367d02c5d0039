r"""The two searches for the threshold of the Euclidean projection onto the capped simplex, row by row.

:math:`g(\tau) = \sum_i \operatorname{clip}(z_i - \tau, 0, 1)` is continuous, non-increasing and piecewise linear
with breakpoints :math:`z_i - 1` and :math:`z_i`; both searches return the adjacent breakpoints
:math:`b_- < b_+` with :math:`g(b_-) \ge s > g(b_+)` and :math:`g(b_-)`, from which
:func:`refefl.projections._capped_simplex.projection_capped_simplex_rows` reads the saturated and free sets:

- :func:`newton_breakpoints`, the algorithm of the compiled twin (``refefl_ext/_capped_simplex.pyx``): Newton
  steps over the breakpoints, with pivots, no sort, expected O(k) per row;
- :func:`sorted_breakpoints`, the textbook algorithm kept for the tests: a binary search over the sorted
  breakpoints, O(k log k).

References
----------
Cominetti, Mascarenhas, Silva (2014), "A Newton's method for the continuous quadratic knapsack problem", Math.
Prog. Comp. 6; Kiwiel (2008), "Breakpoint searching algorithms for the continuous quadratic knapsack problem",
Math. Prog. 112 (the pivots); Wang, Lu (2015), "Projection onto the capped simplex", arXiv:1503.01002.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from refefl.projections._simplex import compact_rows

_PIVOT_STRIDE = 7919  # the pivot scan starts at step · 7919 (mod k): a position that varies between steps
_SPLIT_MIN = 256  # candidate lists narrower than this stay in one group (see _compact)


class Probe(NamedTuple):
    """g at p, the slope count |F(p)| = #{z − 1 ≤ p < z} (minus the slope of g right of p), and the breakpoints
    next to p: the largest ≤ p and the smallest > p (one entry per row)."""

    g: np.ndarray
    slope: np.ndarray
    below: np.ndarray
    above: np.ndarray


def probe(z: np.ndarray, p: np.ndarray) -> Probe:
    """One pass over the rows z at the points p: ``probe_all`` in ``refefl_ext/_capped_simplex.pyx``."""
    p = p[:, None]
    one_less = z - 1.0
    with np.errstate(over="ignore"):  # z − p beyond the float range: ±inf, which clip maps to 0 or 1
        g = np.clip(z - p, 0.0, 1.0).sum(axis=1)
    slope = np.count_nonzero((one_less <= p) & (z > p), axis=1)
    below = np.where(z <= p, z, np.where(one_less <= p, one_less, -np.inf)).max(axis=1)
    above = np.where(one_less > p, one_less, np.where(z > p, z, np.inf)).min(axis=1)
    return Probe(g, slope, below, above)


def _undecided(z: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Entries not fixed at 0 (z ≤ lo) or at 1 (z − 1 ≥ hi) by the bracket (lo, hi); beyond 2**53, where z − 1
    rounds to z, an entry can jump from 1 to 0 at a breakpoint and stays undecided."""
    one_less = z - 1.0
    return np.count_nonzero((z > lo[:, None]) & ((one_less < hi[:, None]) | (one_less == z)), axis=1)


def _pivot(z: np.ndarray, lo: np.ndarray, hi: np.ndarray, step: np.ndarray) -> np.ndarray:
    """A breakpoint strictly inside (lo, hi) of each row, the first z_i or else z_i − 1 found scanning the entries
    cyclically from position step · 7919 (``pivot`` in the .pyx); NaN where there is none."""
    lo, hi = lo[:, None], hi[:, None]
    one_less = z - 1.0
    z_inside, one_less_inside = (lo < z) & (z < hi), (lo < one_less) & (one_less < hi)
    k = z.shape[1]
    distance = (np.arange(k) - (step * _PIVOT_STRIDE % k)[:, None]) % k
    first = np.argmin(np.where(z_inside | one_less_inside, distance, k), axis=1)[:, None]
    chosen = np.where(np.take_along_axis(z_inside, first, 1), np.take_along_axis(z, first, 1),
                      np.take_along_axis(one_less, first, 1))[:, 0]
    return np.where(np.take_along_axis(z_inside | one_less_inside, first, 1)[:, 0], chosen, np.nan)


def _bracket_root(z: np.ndarray, s: float) -> tuple[Probe, np.ndarray]:
    """Newton probes until each row's root lies on the piece [below, above] of its last probe; that probe and
    its point: ``bracket_root`` in the .pyx, every row stepping until its own test holds.

    A probe at p narrows a bracket g(lo) ≥ s > g(hi). Newton's step t = p + (g(p) − s)/|F(p)| is exact once p is
    on the root's linear piece, so a row stops as soon as t falls between the breakpoints next to p; a step that
    leaves more than 3/4 of the entries undecided is followed by a pivot on a breakpoint inside the bracket, and
    a row with none inside stops: the piece it found last holds the root. After each probe the entries that the
    bracket fixes at 0 (z ≤ lo) or 1 (z − 1 ≥ hi) leave the candidate list, as in the .pyx: the number fixed at 1
    is added to g, and the breakpoints next to the bracket's ends stand for theirs (``Fixed`` in the .pyx).
    """
    n_rows, k = z.shape
    lo, hi = np.full(n_rows, -np.inf), np.full(n_rows, np.inf)
    p = np.max(z, axis=1) - 1.0
    previous, newton, step = np.full(n_rows, k), np.ones(n_rows, dtype=bool), np.zeros(n_rows, dtype=np.intp)
    n_one, fixed_below, fixed_above = np.zeros(n_rows), np.full(n_rows, -np.inf), np.full(n_rows, np.inf)
    last = Probe(np.empty(n_rows), np.empty(n_rows, dtype=np.intp), np.empty(n_rows), np.empty(n_rows))
    at = np.empty(n_rows)
    groups = [(np.arange(n_rows), z)]  # rows whose candidate lists are padded to a common width
    while groups:
        active, candidates = groups.pop()
        pa = p[active]
        pr = probe(candidates, pa)
        pr = Probe(pr.g + n_one[active], pr.slope,
                   np.maximum(pr.below, np.where(fixed_below[active] <= pa, fixed_below[active], -np.inf)),
                   np.minimum(pr.above, np.where(fixed_above[active] > pa, fixed_above[active], np.inf)))
        for field, value in zip(last, pr):
            field[active] = value
        at[active] = pa
        right = pr.g >= s
        count = np.where(right, _undecided(candidates, pa, hi[active]), _undecided(candidates, lo[active], pa))
        lo[active], hi[active] = np.where(right, pa, lo[active]), np.where(right, hi[active], pa)
        # the dropped entries' breakpoints lie beyond the bracket's ends: the nearest ones stand for them all
        fixed_below[active] = np.where(right, pr.below, fixed_below[active])
        fixed_above[active] = np.where(right, fixed_above[active], np.where(pr.below == pa, pa, pr.above))
        # Newton on the piece through p: exact if the root is on it (a flat piece at level s holds it too)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(pr.slope > 0, pa + (pr.g - s) / pr.slope, np.where(pr.g == s, pa, np.nan))
        found = (pr.below <= t) & (t <= pr.above)
        # a Newton step that fixed too few entries is followed by a pivot on a breakpoint inside the bracket
        newton[active] = (lo[active] < t) & (t < hi[active]) & (~newton[active] | (4 * count <= 3 * previous[active]))
        previous[active] = count
        step[active] += 1
        pivot = _pivot(candidates, lo[active], hi[active], step[active])
        p[active] = np.where(newton[active], t, pivot)
        going = ~found & (newton[active] | ~np.isnan(pivot))
        active, candidates = active[going], candidates[going]
        groups += _compact(candidates, lo[active], hi[active], n_one, active)
    return last, at


def _compact(candidates, lo, hi, n_one, active) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows ``active`` as groups of (rows, candidate lists): the lists without the entries fixed by the
    bracket (lo, hi), counting into ``n_one`` those fixed at 1 (``collect`` and ``compact`` in the .pyx; beyond
    2**53, where z − 1 rounds to z, an entry stays a candidate).

    As the .pyx copies a row out only once at most half of it is left, only the rows whose list that halves are
    compacted (together, padded to the longest); the others are kept whole, with nothing counted. Lists narrower
    than :data:`_SPLIT_MIN` are not split (each group costs a few NumPy calls per step, and splits again): they
    are compacted once all of them are narrow.
    """
    one_less = candidates - 1.0
    at_one = (one_less >= hi[:, None]) & (one_less != candidates)
    keep = (candidates > lo[:, None]) & ~at_one
    narrow = 2 * np.count_nonzero(keep, axis=1) <= candidates.shape[1]
    if candidates.shape[1] < _SPLIT_MIN:
        narrow[:] = narrow.all()
    n_one[active[narrow]] += np.count_nonzero(at_one[narrow], axis=1)
    groups = [(active[narrow], compact_rows(candidates[narrow], keep[narrow])), (active[~narrow], candidates[~narrow])]
    return [(rows, lists) for rows, lists in groups if rows.size]


def newton_breakpoints(z: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacent breakpoints b_- < b_+ of each row with g(b_-) ≥ s > g(b_+), and g(b_-), without sorting.

    The Newton search (:func:`_bracket_root`), then ``settle`` of the .pyx: the piece of the last probe is
    moved to the adjacent breakpoints by exact probes at breakpoints, over whole rows here (the .pyx probes its
    candidate list and the stand-ins of the dropped entries) (one breakpoint down while rounding puts g
    below s at b_-, up while g(b_+) ≥ s), skipped where g, linear on that piece, is on either side of s by far
    more than any rounding of the sums (g(b_-) is then that linear value, ≠ s). Rows whose m finite scores
    equal s (the set is a point) are not searched: b_- = −inf, b_+ = +inf, g = m. b_- = −inf (g = m) also when
    no finite breakpoint has g ≥ s, which only rounding at |z| ≳ 2**53 can cause.
    """
    m = np.isfinite(z).sum(axis=1).astype(np.float64)
    b_lo, b_hi, g_lo = np.full(z.shape[0], -np.inf), np.full(z.shape[0], np.inf), m.copy()
    search = np.flatnonzero(m != s)
    if not search.size:
        return b_lo, b_hi, g_lo
    z, m = z[search], m[search]
    last, at = _bracket_root(z, s)
    below, above = last.below.copy(), last.above.copy()
    with np.errstate(over="ignore", invalid="ignore"):  # infinite ends: not clear, probed below
        linear_lo, linear_hi = last.g + last.slope * (at - below), last.g - last.slope * (above - at)
        tol = 1e-9 * (last.g + last.slope * (above - below) + s)
    clear = (linear_lo - s > tol) & (s - linear_hi > tol) & (np.abs(below) < 2.0**52) & (np.abs(above) < 2.0**52)
    g = np.where(clear, linear_lo, m)
    active = np.flatnonzero(~clear)
    g[active] = _g_at(z[active], below[active], m[active])
    while active.size:
        down, up = active[g[active] < s], active[g[active] >= s]
        # rounding put the root left of below: step one breakpoint down
        above[down] = below[down]
        below[down] = probe(z[down], np.nextafter(below[down], -np.inf)).below
        g[down] = _g_at(z[down], below[down], m[down])
        # g is flat at level s at above, or rounding: step up (above = +inf gives g = 0 < s: done)
        pr = probe(z[up], above[up])
        up, pr_g, pr_above = up[pr.g >= s], pr.g[pr.g >= s], pr.above[pr.g >= s]
        below[up], g[up], above[up] = above[up], pr_g, pr_above
        active = np.concatenate([down, up])
    b_lo[search], b_hi[search], g_lo[search] = below, above, g
    return b_lo, b_hi, g_lo


def _g_at(z: np.ndarray, p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """g(p) by a probe, m at p = −inf."""
    g = m.copy()
    finite = p > -np.inf
    g[finite] = probe(z[finite], p[finite]).g
    return g


def sorted_breakpoints(z: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same b_-, b_+ and g(b_-) by a binary search over each row's sorted breakpoints, evaluating g exactly
    at each probe: the textbook algorithm, O(k log k) per row, kept for the tests.

    b_- = -inf (g = m) when no finite breakpoint has g ≥ s, which only rounding at |x| ≳ 2**53 can cause.
    """
    n_rows, k = z.shape
    rows = np.arange(n_rows)
    breakpoints = np.sort(np.concatenate([z - 1.0, z], axis=1), axis=1)
    # invariant: g(b[lo]) >= s (index 2·#(-inf) - 1 stands for -inf) and g(b[hi]) < s (b[2k - 1] = max z, g = 0)
    lo = 2 * np.count_nonzero(np.isneginf(z), axis=1) - 1
    hi = np.full(n_rows, 2 * k - 1)
    g_lo = np.isfinite(z).sum(axis=1).astype(np.float64)
    active = hi - lo > 1
    while active.any():
        mid = (lo[active] + hi[active]) // 2
        g = np.clip(z[active] - breakpoints[rows[active], mid][:, None], 0.0, 1.0).sum(axis=1)
        above = g >= s
        lo[active] = np.where(above, mid, lo[active])
        g_lo[active] = np.where(above, g, g_lo[active])
        hi[active] = np.where(above, hi[active], mid)
        active = hi - lo > 1
    b_lo = np.where(lo >= 0, breakpoints[rows, np.maximum(lo, 0)], -np.inf)
    return b_lo, breakpoints[rows, hi], g_lo
