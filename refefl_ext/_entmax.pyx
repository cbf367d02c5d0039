"""α-entmax without sorting: twins of ``refefl.projections._entmax.entmax15_rows`` and ``entmax_bisect_rows``.

In the shifted, scaled variable z = (α − 1)(x − max x) the output is y = [z − τ]₊^{1/(α−1)} with τ ∈ [−1, 0)
(the largest entry alone gives y ≤ 1), so only the candidates z > −1 can be in the support. Per row: the row
max, a branch-free pass collecting the candidates, a threshold search on them alone, and the output pass.

- α = 1.5: y = [z − τ]₊², z = (x − max x)/2. Newton steps on f(τ) = Σ[z − τ]₊² − 1 (convex, decreasing: from
  τ = −1 the iterates increase to the root and never pass it) shrink the candidate set; once the root of the
  quadratic of the current set, τ_S = mean − sqrt(1/|S| − var) (two-pass variance), lies below every candidate, it
  is the exact threshold (Peters, Niculae, Martins 2019, Alg. 2 gives the same τ from a sort). The NumPy twin
  runs the same steps in _entmax15_newton_threshold (refefl/projections/_entmax.py).
- any α: safeguarded Newton inside the bracket [−1, −n_f^{1−α}] until the bracket is one ulp wide (when Newton
  stalls at τ, the next float toward the far end closes it), then the output is divided by its sum (as the NumPy
  twin does, with the same root finder).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, nextafter, pow, sqrt
from cython.view cimport array as cvarray
from refefl_ext._rows cimport (
    PARALLEL_MIN_ELEMENTS, Scratch, ScoreScan, collect_above, lower_cut, scan_scores, scratch_release,
)



cdef Py_ssize_t keep_above(double* z, Py_ssize_t k, double tau) noexcept nogil:
    # z ← [z_j for z_j > tau], in place, branch-free
    cdef Py_ssize_t j, kept = 0
    for j in range(k):
        z[kept] = z[j]
        kept += z[j] > tau
    return kept


cdef double entmax15_threshold(double* z, Py_ssize_t k) noexcept nogil:
    # τ with Σ_j [z_j − τ]₊² = 1 for candidates z_j ∈ (−1, 0], max z = 0 (the loop of _entmax15_newton_threshold
    # in refefl/projections/_entmax.py)
    cdef Py_ssize_t j
    cdef double tau = -1.0, mean, var, tau_s, f, g, d
    while True:
        k = keep_above(z, k, tau)
        mean = 0.0
        for j in range(k):
            mean += z[j]
        mean /= k
        var = 0.0
        f = 0.0
        g = 0.0
        for j in range(k):
            d = z[j] - mean
            var += d * d
            d = z[j] - tau
            f += d * d
            g += d
        var /= k
        tau_s = mean - sqrt(1.0 / k - var if 1.0 / k > var else 0.0)
        if all_above(z, k, tau_s) or f <= 1.0:
            return tau_s
        tau += (f - 1.0) / (2.0 * g)  # Newton step from below


cdef bint all_above(const double* z, Py_ssize_t k, double tau) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(k):
        if z[j] <= tau:
            return False
    return True


def entmax15_rows(const floating[:, ::1] x, floating[:, ::1] out, signed char[::1] status):
    """Twin of ``refefl.projections._entmax.entmax15_rows`` (the same sort-free algorithm, see the module
    docstring)."""
    cdef Py_ssize_t r, i, k, m = x.shape[0], n = x.shape[1]
    cdef floating shift, tau, value
    cdef ScoreScan scan
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
            k = collect_above(&x[r, 0], n, lower_cut(-2.0, shift, shift), shift, 0.5, &scratch)
            if k < 0:
                failed_rows[0] = 1
                continue
            tau = <floating>entmax15_threshold(scratch.data, k)
            # y = [(x − max x)/2 − τ]₊²
            for i in range(n):
                value = (x[r, i] - shift) * <floating>0.5 - tau
                out[r, i] = value * value if value > 0 else 0
        scratch_release(&scratch)
    if failed:
        raise MemoryError("entmax15_rows: no memory for the candidate buffer")


cdef void mass_excess(const double* z, Py_ssize_t k, double tau, double power, double* f,
                      double* fprime) noexcept nogil:
    # f = Σ_j [z_j − τ]₊^p − 1 and f' = −p Σ_j [z_j − τ]₊^(p−1)
    cdef Py_ssize_t j
    cdef double gap, y, total = 0.0, slope = 0.0
    for j in range(k):
        gap = z[j] - tau
        if gap > 0:
            y = pow(gap, power)
            total += y
            slope += y / gap
    f[0] = total - 1.0
    fprime[0] = -power * slope


cdef int bisect_threshold(double* z, Py_ssize_t k, double power, double lo, double hi, int max_iter,
                          double* tau_out, double* residual, double* width) noexcept nogil:
    # safeguarded Newton on the decreasing f over [lo, hi]; returns the evaluations of f (negated: unconverged)
    cdef int it, probed = 0
    cdef double tau, f = 0.0, fprime = 0.0, newton, mid
    cdef double near = -hi, far = -lo, smallest = 5e-324
    # the twin's _narrow_exponent: a bracket spanning more than a factor 2**10 in |τ| is narrowed to a factor 2 by
    # bisecting the binary exponent of |τ|
    cdef bint wide = far > 1024.0 * max(near, smallest)
    while wide and far > 2.0 * max(near, smallest):
        mid = sqrt(max(near, smallest)) * sqrt(far)
        mass_excess(z, k, -mid, power, &f, &fprime)
        if f > 0:
            far = mid
        else:
            near = mid
        probed += 1
    lo, hi = -far, -near
    tau = lo + (hi - lo) / 2
    for it in range(1, max_iter + 1):
        mass_excess(z, k, tau, power, &f, &fprime)
        if f > 0:
            lo = tau
        else:
            hi = tau
        mid = lo + (hi - lo) / 2
        if f == 0 or mid == lo or mid == hi:
            tau_out[0], residual[0], width[0] = tau, f, hi - lo
            return it + probed
        newton = tau - f / fprime if -INFINITY < fprime < 0 else mid  # the twin's _next_point (f' = 0 or -inf)
        if newton == tau:  # Newton has converged to within an ulp: try the neighbour toward the far end
            newton = nextafter(tau, hi if f > 0 else lo)
        tau = newton if lo < newton < hi else mid
    tau_out[0], residual[0], width[0] = tau, f, hi - lo
    return -(max_iter + probed)


def entmax_bisect_rows(const floating[:, ::1] x, double alpha, floating[:, ::1] out, int max_iter,
                       signed char[::1] status):
    """Twin of ``refefl.projections._entmax.entmax_bisect_rows``: returns
    (iterations, max |f| before normalization, widest final bracket, converged)."""
    cdef Py_ssize_t r, i, k, n_finite, m = x.shape[0], n = x.shape[1]
    cdef double power = 1.0 / (alpha - 1.0), shift, tau, value, total
    cdef ScoreScan scan
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    cdef int[::1] iterations = cvarray((max(m, 1),), sizeof(int), "i")
    cdef double[::1] residual = cvarray((max(m, 1),), sizeof(double), "d")
    cdef double[::1] width = cvarray((max(m, 1),), sizeof(double), "d")
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        scratch = Scratch(NULL, 0)  # one growing buffer per thread
        for r in prange(m, schedule="static"):
            iterations[r], residual[r], width[r] = 0, 0.0, 0.0
            scan = scan_scores(&x[r, 0], n, 1.0)
            status[r] = scan.status
            if scan.status:
                continue
            shift, n_finite = scan.maximum, scan.n_finite
            k = collect_above(&x[r, 0], n, lower_cut(-power, shift, x[r, 0]), shift, alpha - 1.0, &scratch)
            if k < 0:
                failed_rows[0] = 1
                continue
            tau = 0.0
            iterations[r] = bisect_threshold(scratch.data, k, power, -1.0, -pow(<double>n_finite, 1.0 - alpha),
                                             max_iter, &tau, &residual[r], &width[r])
            # y = [z − τ]₊^p / Σ_j [z_j − τ]₊^p
            total = 0.0
            for i in range(n):
                value = (alpha - 1.0) * (x[r, i] - shift) - tau
                value = pow(value, power) if value > 0 else 0.0
                out[r, i] = <floating>value
                total = total + value
            for i in range(n):
                out[r, i] = <floating>(out[r, i] / total)
        scratch_release(&scratch)
    if failed:
        raise MemoryError("entmax_bisect_rows: no memory for the candidate buffer")
    # the buffers hold one unused entry when m = 0 (an empty batch): read only the first m
    return (max([abs(v) for v in iterations[:m]], default=0), max([abs(v) for v in residual[:m]], default=0.0),
            max(width[:m], default=0.0), all(v >= 0 for v in iterations[:m]))
