"""Sort-free projection onto the simplex: twin of ``refefl.projections._simplex.projection_simplex_rows``.

Per row: (1) the row max m, and the row's status (NaN, +inf, all −inf: the row is then skipped); (2) a branch-free pass that keeps the candidates x_i > m − r (the threshold τ of
y = [x − m − τ]₊ lies in [−r, 0), so every other coordinate is 0); (3) Michelot's fixed point
τ ← (Σ_S z − r)/|S|, S ← {z ∈ S : z > τ} on the few candidates z = x − m (C. Michelot, "A finite algorithm for
finding the projection of a point onto the canonical simplex of R^n", J. Optim. Theory Appl. 50, 1986; τ
increases to the exact threshold, which makes dropping safe); (4) the output pass. Expected O(n) with no sort.
The NumPy twin runs the same steps: bad_rows (1), candidate_rows (2), _michelot_threshold (3), the last line of
projection_simplex_rows (4). Shifting by the max keeps |x| up to 1e300 exact.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, NAN
from libc.string cimport memcpy
from refefl_ext._rows cimport (
    PARALLEL_MIN_ELEMENTS, SCORES_NAN, Scratch, ScoreScan, collect_above, lower_cut, row_status, scan_scores,
    scratch_release, scratch_reserve,
)


cdef enum:
    PIECES = 8  # a long single row is cut into this many pieces, which the threads share



cdef double michelot_threshold(double* z, Py_ssize_t k, double radius) noexcept nogil:
    # τ = (Σ_S z − r)/|S| with S ← {z ∈ S : z > τ} until S is stable; compacts z in place
    # (the loop of _michelot_threshold in refefl/projections/_simplex.py)
    cdef Py_ssize_t j, kept = -1
    cdef double total, tau = -radius
    while kept != k:
        kept = k
        total = 0.0
        for j in range(kept):
            total += z[j]
        tau = (total - radius) / kept
        k = 0
        for j in range(kept):
            z[k] = z[j]
            k += z[j] > tau
    return tau


cdef floating simplex_threshold(const floating* x, Py_ssize_t n, double radius, Scratch* scratch,
                                floating shift) noexcept nogil:
    # τ (in the shifted variable z = x − shift, shift = max x) of the projection onto {y ≥ 0, Σy = r};
    # NaN if the scratch could not grow (candidate_rows(z, -radius), then _michelot_threshold, in the twin)
    cdef Py_ssize_t k = collect_above(x, n, lower_cut(-radius, shift, x[0]), shift, 1.0, scratch)
    if k < 0:
        return <floating>NAN
    return <floating>michelot_threshold(scratch.data, k, radius)


cdef ScoreScan scan_pieces(const floating* x, Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    # scan_scores of a row, its pieces [p·size, (p + 1)·size) scanned in parallel and combined
    cdef ScoreScan part[PIECES]
    cdef ScoreScan scan = ScoreScan(0, -INFINITY, 0)
    cdef Py_ssize_t p, lo
    cdef bint nan = False
    for p in prange(PIECES, schedule="static"):
        lo = p * size if p * size < n else n
        part[p] = scan_scores(x + lo, (lo + size if lo + size < n else n) - lo, 0.0)
    for p in range(PIECES):
        scan.maximum = part[p].maximum if part[p].maximum > scan.maximum else scan.maximum
        scan.n_finite += part[p].n_finite
        nan |= part[p].status == SCORES_NAN
    scan.status = row_status(nan, scan.maximum, scan.n_finite, 1.0)
    return scan


cdef int project_long_row(const floating* x, Py_ssize_t n, double radius, floating* out,
                          signed char* status) noexcept nogil:
    # the row kernel on one long row, in three parallel passes over its pieces: scan, candidates (each piece into
    # its own buffer, then gathered), output; −1 if a buffer could not grow
    cdef Py_ssize_t size = (n + PIECES - 1) // PIECES, p, i, lo, hi, k = 0
    cdef Py_ssize_t counts[PIECES]
    cdef Scratch found[PIECES]
    cdef ScoreScan scan = scan_pieces(x, n, size)
    cdef floating shift = <floating>scan.maximum, tau, value, cut
    cdef int failed = 0
    status[0] = scan.status
    if scan.status:
        return 0
    cut = lower_cut(-radius, shift, x[0])
    for p in range(PIECES):
        found[p] = Scratch(NULL, 0)
    for p in prange(PIECES, schedule="static"):
        lo = p * size if p * size < n else n
        counts[p] = collect_above(x + lo, (lo + size if lo + size < n else n) - lo, cut, shift, 1.0, &found[p])
    for p in range(PIECES):
        failed |= counts[p] < 0
    if not failed and scratch_reserve(&found[0], sum_counts(counts)):
        k = counts[0]
        for p in range(1, PIECES):
            memcpy(found[0].data + k, found[p].data, counts[p] * sizeof(double))
            k += counts[p]
        tau = <floating>michelot_threshold(found[0].data, k, radius)
        for i in prange(n, schedule="static"):
            value = (x[i] - shift) - tau
            out[i] = value if value > 0 else 0
    else:
        failed = 1
    for p in range(PIECES):
        scratch_release(&found[p])
    return -1 if failed else 0


cdef inline Py_ssize_t sum_counts(const Py_ssize_t* counts) noexcept nogil:
    cdef Py_ssize_t p, total = 0
    for p in range(PIECES):
        total += counts[p]
    return total


def projection_simplex_rows(const floating[:, ::1] x, double radius, floating[:, ::1] out, signed char[::1] status):
    """Twin of ``refefl.projections._simplex.projection_simplex_rows`` (the same sort-free algorithm, see the
    module docstring)."""
    cdef Py_ssize_t r, i, m = x.shape[0], n = x.shape[1]
    cdef ScoreScan scan
    cdef floating shift, tau, value
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    if m == 1 and n >= PARALLEL_MIN_ELEMENTS:  # one long row: its pieces go to the threads
        with nogil:
            failed = project_long_row(&x[0, 0], n, radius, &out[0, 0], &status[0])
        if failed:
            raise MemoryError("projection_simplex_rows: no memory for the candidate buffers")
        return
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        scratch = Scratch(NULL, 0)  # one growing buffer per thread
        for r in prange(m, schedule="static"):
            scan = scan_scores(&x[r, 0], n, 1.0)
            status[r] = scan.status
            if scan.status:
                continue
            shift = <floating>scan.maximum
            tau = simplex_threshold(&x[r, 0], n, radius, &scratch, shift)
            if tau != tau:
                failed_rows[0] = 1
            # y = [(x − max x) − τ]₊ in the row's dtype (vectorizes; x − max x is exact near the support)
            for i in range(n):
                value = (x[r, i] - shift) - tau
                out[r, i] = value if value > 0 else 0
        scratch_release(&scratch)
    if failed:
        raise MemoryError("projection_simplex_rows: no memory for the candidate buffer")
