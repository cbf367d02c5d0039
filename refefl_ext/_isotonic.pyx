"""Pool-adjacent-violators kernels: twins of ``refefl.projections._isotonic.isotonic_l2`` / ``isotonic_kl``.

Inputs are trusted (validated by the Python caller): C-contiguous rows, outputs preallocated. Block statistics
are accumulated in float64 for float32 data as well. Each row uses three float64/intp scratch stacks of length
n, allocated once per thread.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, fabs, log1p
from libc.stdlib cimport free, malloc

# Rows go to OpenMP threads only when a batch has this many elements in all (smaller batches stay serial).
cdef Py_ssize_t PARALLEL_MIN_ELEMENTS = 1 << 15


cdef inline bint _in_order(double prev, double cur, bint increasing) noexcept nogil:
    # adjacent blocks are kept apart only when strictly ordered (equal values pool, as in scipy)
    return prev < cur if increasing else prev > cur


cdef inline double _logaddexp(double a, double b) noexcept nogil:
    # log(e^a + e^b) = max + log1p(exp(-|a - b|))
    return (a if a > b else b) + log1p(exp(-fabs(a - b)))


cdef Py_ssize_t _fill_blocks(floating[::1] out, Py_ssize_t[::1] starts, Py_ssize_t n_blocks,
                             const double* value) noexcept nogil:
    # out[starts[k]:starts[k+1]] = value[k]
    cdef Py_ssize_t k, i, n = out.shape[0]
    starts[n_blocks] = n
    for k in range(n_blocks):
        for i in range(starts[k], starts[k + 1]):
            out[i] = <floating>value[k]
    return n_blocks


cdef Py_ssize_t _pav_l2_row(const floating[::1] y, const floating[::1] w, bint weighted, bint increasing,
                            floating[::1] out, Py_ssize_t[::1] starts,
                            double* mean, double* weight) noexcept nogil:
    cdef Py_ssize_t i, top = -1, n = y.shape[0]
    cdef double total
    for i in range(n):
        # push {i} as a block: mean y_i, weight w_i
        top += 1
        starts[top] = i
        mean[top] = y[i]
        weight[top] = w[i] if weighted else 1.0
        # pool while the last two blocks violate the order: weighted mean, finite near 1e300
        while top > 0 and not _in_order(mean[top - 1], mean[top], increasing):
            total = weight[top - 1] + weight[top]
            mean[top - 1] = mean[top - 1] + (mean[top] - mean[top - 1]) * (weight[top] / total)
            weight[top - 1] = total
            top -= 1
    return _fill_blocks(out, starts, top + 1, mean)


cdef Py_ssize_t _pav_kl_row(const floating[::1] s, const floating[::1] log_w, bint increasing,
                            floating[::1] out, Py_ssize_t[::1] starts,
                            double* value, double* lse_s, double* lse_w) noexcept nogil:
    cdef Py_ssize_t i, top = -1, n = s.shape[0]
    for i in range(n):
        # push {i}: v = s_i - log_w_i
        top += 1
        starts[top] = i
        lse_s[top] = s[i]
        lse_w[top] = log_w[i]
        value[top] = lse_s[top] - lse_w[top]
        # pool: v_B = logsumexp(s_B) - logsumexp(log_w_B)
        while top > 0 and not _in_order(value[top - 1], value[top], increasing):
            lse_s[top - 1] = _logaddexp(lse_s[top - 1], lse_s[top])
            lse_w[top - 1] = _logaddexp(lse_w[top - 1], lse_w[top])
            value[top - 1] = lse_s[top - 1] - lse_w[top - 1]
            top -= 1
    return _fill_blocks(out, starts, top + 1, value)


def isotonic_l2(const floating[:, ::1] y, const floating[:, ::1] weights, floating[:, ::1] out,
                Py_ssize_t[:, ::1] starts, Py_ssize_t[::1] n_blocks, bint increasing):
    """Twin of ``refefl.projections._isotonic.isotonic_l2`` (weighted Euclidean PAV, row by row)."""
    cdef Py_ssize_t r, m = y.shape[0], n = y.shape[1]
    cdef bint weighted = weights.shape[1] > 0
    cdef double* mean
    cdef double* weight
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        mean = <double*>malloc(2 * n * sizeof(double))
        weight = mean + n
        for r in prange(m, schedule="static"):
            n_blocks[r] = _pav_l2_row(y[r], weights[r] if weighted else y[r], weighted, increasing,
                                      out[r], starts[r], mean, weight)
        free(mean)


def isotonic_kl(const floating[:, ::1] s, const floating[:, ::1] log_w, floating[:, ::1] out,
                Py_ssize_t[:, ::1] starts, Py_ssize_t[::1] n_blocks, bint increasing):
    """Twin of ``refefl.projections._isotonic.isotonic_kl`` (entropic PAV, row by row)."""
    cdef Py_ssize_t r, m = s.shape[0], n = s.shape[1]
    cdef double* value
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        value = <double*>malloc(3 * n * sizeof(double))
        for r in prange(m, schedule="static"):
            n_blocks[r] = _pav_kl_row(s[r], log_w[r], increasing, out[r], starts[r],
                                      value, value + n, value + 2 * n)
        free(value)
