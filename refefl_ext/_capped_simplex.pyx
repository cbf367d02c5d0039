"""Euclidean projection onto the capped simplex {0 ≤ y ≤ 1, Σy = s}: twin of
``refefl.projections._capped_simplex.projection_capped_simplex_rows`` (the entropic map is in _capped_entropic.pyx).

y = clip(x − τ, 0, 1), and g(τ) = Σ clip(x_i − τ, 0, 1) is piecewise linear with breakpoints
x_i − 1 and x_i, searched without sorting (the NumPy twin runs the same search, its candidate lists padded in
groups of rows: newton_breakpoints in refefl/projections/_capped_breakpoints.py): a *probe* at a point p is one
pass that returns g(p), the slope count |F(p)| = #{x_i − 1 ≤ p < x_i} and the breakpoints next to p. Newton's
step t = p + (g(p) − s)/|F(p)| is exact once p lies on the root's linear piece (Cominetti, Mascarenhas, Silva
2014, "A Newton's method for the continuous quadratic knapsack problem", Math. Prog. Comp. 6), so the search
stops as soon as t falls between the breakpoints next to p. Each probe shrinks a bracket g(lo) ≥ s > g(hi);
the entries it fixes at 0 (x_i ≤ lo) or 1 (x_i − 1 ≥ hi) leave a compacted candidate list once few remain, and
a step that does not shrink the candidates is followed by a pivot on a candidate breakpoint inside the bracket
(Kiwiel 2008, "Breakpoint searching algorithms for the continuous quadratic knapsack problem", Math. Prog.
112), which bounds the number of probes. The adjacent breakpoints b₋ < b₊ around the root are then checked with
exact probes, g(b₋) ≥ s > g(b₊), which gives the twin's free set F and centred output exactly. Expected O(k).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, NAN, fabs, nextafter

from refefl_ext._rows cimport (
    CHUNK, PARALLEL_MIN_ELEMENTS, Scratch, ScoreScan, scan_scores, scratch_release, scratch_reserve,
)


cdef struct Probe:
    double g            # g(p) = Σ clip(z − p, 0, 1)
    Py_ssize_t slope    # |F(p)| = #{z − 1 ≤ p < z}, minus the slope of g right of p
    double below        # largest breakpoint ≤ p
    double above        # smallest breakpoint > p
    Py_ssize_t kept_lo  # entries left undecided if p becomes the lower end of the bracket
    Py_ssize_t kept_hi  # ... if p becomes the upper end


cdef struct Fixed:
    # entries dropped from the candidate list: the number fixed at 1, and breakpoints at least as close to the
    # bracket as those of the entries fixed at 0 (below) and at 1 (above), so that probes on the list still see
    # the breakpoints next to them
    Py_ssize_t n_one
    double below
    double above


cdef inline void probe_one(double z, double p, double* g, double* below, double* above) noexcept nogil:
    # g += clip(z − p, 0, 1), and the breakpoints z − 1 ≤ z next to p on each side (branch-free: vectorizes)
    cdef double d = z - p, a = z - 1.0, b
    d = d if d > 0.0 else 0.0
    g[0] += d if d < 1.0 else 1.0
    b = z if z <= p else (a if a <= p else -INFINITY)
    below[0] = b if b > below[0] else below[0]
    b = a if a > p else (z if z > p else INFINITY)
    above[0] = b if b < above[0] else above[0]


cdef inline bint fixed_at_one(double z, double hi) noexcept nogil:
    # z − 1 ≥ hi fixes y = 1, except where z − 1 rounds to z (|z| ≥ 2**53): such an entry can jump from 1 to 0
    # at a breakpoint, so it stays a candidate
    cdef double a = z - 1.0
    return (a >= hi) & (a != z)


cdef enum:
    LANES = 8  # independent accumulators of a probe's sums, so that they vectorize


cdef Probe probe_all(const floating* z, Py_ssize_t k, const Fixed* fixed, double p, double lo,
                     double hi) noexcept nogil:
    # a probe at p over z[:k] (read-only) plus the dropped entries; also counts the entries that p leaves
    # undecided as the lower or the upper end of the bracket (lo, hi) (probe and _undecided in the twin)
    cdef Probe pr
    cdef double g[LANES]
    cdef double below[LANES]
    cdef double above[LANES]
    cdef Py_ssize_t i = 0, slope = 0, kept_lo = 0, kept_hi = 0
    cdef int j
    cdef double v, a
    for j in range(LANES):
        g[j] = 0.0
        below[j] = fixed.below if fixed.below <= p else -INFINITY
        above[j] = fixed.above if fixed.above > p else INFINITY
    while i + LANES <= k:
        for j in range(LANES):
            probe_one(z[i + j], p, &g[j], &below[j], &above[j])
        i += LANES
    for j in range(k - i):
        probe_one(z[i + j], p, &g[j], &below[j], &above[j])
    for i in range(k):
        v = z[i]
        a = v - 1.0
        slope += (a <= p) & (v > p)
        kept_lo += (v > p) & ((a < hi) | (a == v))  # not fixed at 0 or 1 by the bracket (p, hi)
        kept_hi += (v > lo) & ((a < p) | (a == v))  # ... by (lo, p)
    pr.g, pr.below, pr.above = 0.0, -INFINITY, INFINITY
    for j in range(LANES):
        pr.g += g[j]
        pr.below = below[j] if below[j] > pr.below else pr.below
        pr.above = above[j] if above[j] < pr.above else pr.above
    pr.g += fixed.n_one
    pr.slope, pr.kept_lo, pr.kept_hi = slope, kept_lo, kept_hi
    return pr


cdef Py_ssize_t collect(const floating* x, Py_ssize_t n, double lo, double hi, Scratch* z,
                       Fixed* fixed) noexcept nogil:
    # z = [x_i not fixed by the bracket (lo, hi)], counting those fixed at 1 into `fixed`; chunks without a
    # kept entry skip the copy (a vectorizable test), the others are compacted branch-free. −1: out of memory
    cdef Py_ssize_t start = 0, stop, i, k = 0, n_one = 0
    cdef bint hit
    cdef double v
    while start < n:
        stop = start + CHUNK if start + CHUNK < n else n
        hit = False
        for i in range(start, stop):
            v = x[i]
            n_one += fixed_at_one(v, hi)
            hit |= (v > lo) & (not fixed_at_one(v, hi))
        if hit:
            if not scratch_reserve(z, k + CHUNK):
                return -1
            for i in range(start, stop):
                v = x[i]
                z.data[k] = v
                k += (v > lo) & (not fixed_at_one(v, hi))
        start = stop
    fixed.n_one += n_one
    return k


cdef Py_ssize_t compact(double* z, Py_ssize_t k, double lo, double hi, Fixed* fixed) noexcept nogil:
    # drop from z[:k], in place, the entries fixed by the bracket (lo, hi), counting those fixed at 1
    cdef Py_ssize_t j, kept = 0
    cdef double v
    for j in range(k):
        v = z[j]
        fixed.n_one += fixed_at_one(v, hi)
        z[kept] = v
        kept += (v > lo) & (not fixed_at_one(v, hi))
    return kept


cdef double pivot(const floating* z, Py_ssize_t k, Py_ssize_t start, double lo, double hi) noexcept nogil:
    # a breakpoint strictly inside (lo, hi), scanning from a position that varies between calls; NaN if none
    # (_pivot in the twin, whose padded lists start the scan elsewhere: another pivot, the same root)
    cdef Py_ssize_t j, i
    cdef double a
    for j in range(k):
        i = (start + j) % k
        if lo < z[i] < hi:
            return z[i]
        a = z[i] - 1.0
        if lo < a < hi:
            return a
    return NAN


cdef Py_ssize_t bracket_root(const floating* x, Py_ssize_t n, double s, double x_max, Scratch* scratch,
                             Fixed* fixed, Probe* pr, double* at) noexcept nogil:
    # Newton probes until the root's piece [pr.below, pr.above] is found (pr: the last probe, at *at; the twin's
    # _bracket_root); returns
    # the length of the candidate list left in scratch (−1: the row itself is still the list; −2: out of memory)
    cdef double lo = -INFINITY, hi = INFINITY, p = x_max - 1.0, t
    cdef Py_ssize_t k = -1, count = n, previous = n, step = 0
    cdef bint newton = True
    while True:
        at[0] = p
        if k >= 0:
            k = compact(scratch.data, k, lo, hi, fixed)
        elif 2 * count <= n:  # at most half the row is left undecided: copy it out
            k = collect(x, n, lo, hi, scratch, fixed)
            if k < 0:
                return -2
        pr[0] = probe_all(x, n, fixed, p, lo, hi) if k < 0 else probe_all(scratch.data, k, fixed, p, lo, hi)
        count = pr.kept_lo if pr.g >= s else pr.kept_hi
        # the dropped entries' breakpoints lie beyond the bracket's ends: the nearest ones stand for them all
        if pr.g >= s:
            lo, fixed.below = p, pr.below
        else:
            hi, fixed.above = p, (p if pr.below == p else pr.above)
        # Newton on the piece through p: exact if the root is on it (a flat piece at level s holds it too)
        t = p + (pr.g - s) / pr.slope if pr.slope > 0 else (p if pr.g == s else NAN)
        if pr.below <= t <= pr.above:
            return k
        # a Newton step that fixed too few entries is followed by a pivot on a breakpoint inside the bracket
        newton = lo < t < hi and (not newton or 4 * count <= 3 * previous)
        previous = count
        step += 1
        if newton:
            p = t
        else:
            p = pivot(x, n, step * 7919, lo, hi) if k < 0 else pivot(scratch.data, k, step * 7919, lo, hi)
            if p != p:  # no breakpoint strictly inside (lo, hi): the piece found last holds the root
                return k


cdef double settle(const floating* z, Py_ssize_t k, const Fixed* fixed, double s, Py_ssize_t m, double* below,
                   double* above, const Probe* last, double at) noexcept nogil:
    # (the second half of the twin's newton_breakpoints)
    # move [below, above] to the adjacent breakpoints b₋ < b₊ with g(b₋) ≥ s > g(b₊), probing g exactly at
    # breakpoints as the twin's binary search does; returns g(b₋) (m at b₋ = −inf). On the piece of the last
    # probe g is linear (below 2**52, where x − 1 is exact): where that already puts g(b₋) and g(b₊) on their
    # sides of s by far more than any rounding of the sums, no probe is needed (and g(b₋) ≠ s)
    cdef Probe pr
    cdef double g_lo = last.g + last.slope * (at - below[0]), g_hi = last.g - last.slope * (above[0] - at)
    cdef double tol = 1e-9 * (last.g + last.slope * (above[0] - below[0]) + s)
    if g_lo - s > tol and s - g_hi > tol and fabs(below[0]) < 2.0 ** 52 and fabs(above[0]) < 2.0 ** 52:
        return g_lo
    g_lo = m if below[0] == -INFINITY else probe_all(z, k, fixed, below[0], -INFINITY, INFINITY).g
    while True:
        if g_lo < s:  # rounding put the root left of below: step one breakpoint down
            above[0] = below[0]
            below[0] = probe_all(z, k, fixed, nextafter(below[0], -INFINITY), -INFINITY, INFINITY).below
            g_lo = m if below[0] == -INFINITY else probe_all(z, k, fixed, below[0], -INFINITY, INFINITY).g
            continue
        if above[0] == INFINITY:
            return g_lo
        pr = probe_all(z, k, fixed, above[0], -INFINITY, INFINITY)
        if pr.g < s:
            return g_lo
        below[0], g_lo, above[0] = above[0], pr.g, pr.above  # g is flat at level s, or rounding: step up


cdef struct FreeSet:
    double n_saturated  # |S|, entries at 1
    double n_free       # |F|
    double anchor       # min x_F
    double centred      # Σ_F (x − anchor)
    bint jump           # F is the group of ties at b₊ beyond 2**53 (see the twin's _classify)


cdef FreeSet free_set(const floating* z, Py_ssize_t k, const Fixed* fixed, double s, double below, double above,
                      bint flat) noexcept nogil:
    # the twin's _classify: saturated = z − 1 ≥ b₊, free = z − 1 ≤ b₋ and z ≥ b₊, minus z − 1 = b₋ when
    # g(b₋) = s (flat), and the jumping ties when F is empty and |S| ≠ s
    cdef FreeSet fs
    cdef Py_ssize_t i, n_free_before = 0, n_ties = 0, n_saturated = fixed.n_one, n_free = 0
    cdef double a, v
    cdef bint free, at_one
    fs.anchor, fs.centred = INFINITY, 0.0
    for i in range(k):
        v = z[i]
        a = v - 1.0
        free = (a <= below) & (v >= above)
        at_one = free & flat & (a == below)
        n_free_before += free
        n_ties += (a >= above) & (v == above)
        n_saturated += (a >= above) | at_one
        n_free += free & (not at_one)
        fs.anchor = v if (free & (not at_one)) & (v < fs.anchor) else fs.anchor
    fs.n_saturated, fs.n_free = n_saturated, n_free
    fs.jump = n_free_before == 0 and fs.n_saturated != s
    if fs.jump:
        fs.n_saturated -= n_ties
        fs.n_free, fs.anchor = n_ties, above
        return fs
    for i in range(k):  # centred = Σ_F (x − min x_F)
        v = z[i]
        a = v - 1.0
        free = (a <= below) & (v >= above) & (not (flat & (a == below)))
        fs.centred += (v - fs.anchor) if free else 0.0
    return fs


cdef int project_row(const floating* x, Py_ssize_t n, double s, double x_max, Py_ssize_t m, Scratch* scratch,
                     floating* out, unsigned char* free) noexcept nogil:
    # one row of projection_capped_simplex_rows (x_max: its max, m: its finite entries); −1 if the candidate
    # list could not grow
    cdef Py_ssize_t i, j, k
    cdef Fixed fixed = Fixed(0, -INFINITY, INFINITY)
    cdef FreeSet fs
    cdef Probe last
    cdef double below, above, at, g_lo, offset, v
    cdef double wide[CHUNK]
    cdef bint flat
    if m == s:  # the set is the single point: indicator of the finite scores, empty F
        for i in range(n):
            out[i] = 1 if x[i] > -INFINITY else 0
            free[i] = 0
        return 0
    k = bracket_root(x, n, s, x_max, scratch, &fixed, &last, &at)
    if k == -2:
        return -1
    below, above = last.below, last.above
    if k < 0:
        g_lo = settle(x, n, &fixed, s, m, &below, &above, &last, at)
    else:
        g_lo = settle(scratch.data, k, &fixed, s, m, &below, &above, &last, at)
    flat = g_lo == s
    fs = free_set(x, n, &fixed, s, below, above, flat) if k < 0 else \
        free_set(scratch.data, k, &fixed, s, below, above, flat)
    # offset = (s − |S|)/|F| − Σ_F (x − a)/|F|, |F| at least 1, as in the twin
    v = fs.n_free if fs.n_free > 1 else 1.0
    offset = (s - fs.n_saturated) / v - fs.centred / v
    if floating is double:
        write_block(x, n, below, above, flat, &fs, offset, out, free)
    else:  # float32 through float64 blocks: mixed widths would keep the output loop from vectorizing
        i = 0
        while i < n:
            k = min(<Py_ssize_t>CHUNK, n - i)
            for j in range(k):
                wide[j] = x[i + j]
            write_block(wide, k, below, above, flat, &fs, offset, wide, &free[i])
            for j in range(k):
                out[i + j] = <floating>wide[j]
            i += CHUNK
    return 0


cdef void write_block(const double* z, Py_ssize_t n, double below, double above, bint flat, const FreeSet* fs,
                      double offset, double* out, unsigned char* free) noexcept nogil:
    # out = clip((x − a) + offset, 0, 1) on F, 1 on S, 0 elsewhere (out may be z); free = the indicator of F
    cdef Py_ssize_t i
    cdef double a, v
    cdef bint saturated, in_free, at_one
    for i in range(n):
        a = z[i] - 1.0
        saturated = a >= above
        in_free = (a <= below) & (z[i] >= above)
        at_one = in_free & flat & (a == below)
        in_free = (in_free & (not at_one)) | (fs.jump & saturated & (z[i] == above))
        v = (z[i] - fs.anchor) + offset
        v = v if v > 0.0 else 0.0
        v = v if v < 1.0 else 1.0
        out[i] = v if in_free else (1.0 if saturated | at_one else 0.0)
        free[i] = in_free


def projection_capped_simplex_rows(const floating[:, ::1] x, double s, floating[:, ::1] out,
                                   unsigned char[:, ::1] free, signed char[::1] status):
    """Twin of ``refefl.projections._capped_simplex.projection_capped_simplex_rows`` (sort-free Newton search
    over the breakpoints, see the module docstring): writes ŷ into ``out`` and the free set into ``free``."""
    cdef Py_ssize_t r, m = x.shape[0], n = x.shape[1]
    cdef ScoreScan scan
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        scratch = Scratch(NULL, 0)  # one growing candidate buffer per thread
        for r in prange(m, schedule="static"):
            scan = scan_scores(&x[r, 0], n, s)
            status[r] = scan.status
            if scan.status:
                continue
            if project_row(&x[r, 0], n, s, scan.maximum, scan.n_finite, &scratch, &out[r, 0], &free[r, 0]) < 0:
                failed_rows[0] = 1
        scratch_release(&scratch)
    if failed:
        raise MemoryError("projection_capped_simplex_rows: no memory for the candidate buffer")
