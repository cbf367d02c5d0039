"""Sort-free projection onto the simplex: twin of ``refefl.projections._simplex.projection_simplex_rows``.

Per row: (1) the row max m, and the row's status (NaN, +inf, all −inf: the row is then skipped); (2) a branch-free pass that keeps the candidates x_i > m − r (the threshold τ of
y = [x − m − τ]₊ lies in [−r, 0), so every other coordinate is 0); (3) Michelot's fixed point
τ ← (Σ_S z − r)/|S|, S ← {z ∈ S : z > τ} on the few candidates z = x − m (C. Michelot, "A finite algorithm for
finding the projection of a point onto the canonical simplex of R^n", J. Optim. Theory Appl. 50, 1986; τ
increases to the exact threshold, which makes dropping safe); (4) the output pass. Expected O(n) with no sort;
the NumPy twin sorts. Shifting by the max keeps |x| up to 1e300 exact.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport NAN
from refefl_ext._rows cimport (
    PARALLEL_MIN_ELEMENTS, Scratch, ScoreScan, collect_above, lower_cut, scan_scores, scratch_release,
)



cdef double michelot_threshold(double* z, Py_ssize_t k, double radius) noexcept nogil:
    # τ = (Σ_S z − r)/|S| with S ← {z ∈ S : z > τ} until S is stable; compacts z in place
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
    # NaN if the scratch could not grow
    cdef Py_ssize_t k = collect_above(x, n, lower_cut(-radius, shift, x[0]), shift, 1.0, scratch)
    if k < 0:
        return <floating>NAN
    return <floating>michelot_threshold(scratch.data, k, radius)


def projection_simplex_rows(const floating[:, ::1] x, double radius, floating[:, ::1] out, signed char[::1] status):
    """Twin of ``refefl.projections._simplex.projection_simplex_rows`` (sort-free, see the module docstring)."""
    cdef Py_ssize_t r, i, m = x.shape[0], n = x.shape[1]
    cdef ScoreScan scan
    cdef floating shift, tau, value
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
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
