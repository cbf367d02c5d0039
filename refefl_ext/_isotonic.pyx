"""Pool-adjacent-violators kernels: twins of ``refefl.projections._isotonic.isotonic_l2`` / ``isotonic_kl``.

Inputs are trusted (validated by the Python caller): C-contiguous rows, outputs preallocated, block sums that
cannot overflow. Block statistics are accumulated in float64 for float32 data as well.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, fabs, log1p

from refefl_ext._pav cimport _in_order, _pav_l2_row
from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS, Scratch, scratch_release, scratch_reserve



cdef inline double _logaddexp(double a, double b) noexcept nogil:
    # log(e^a + e^b) = max + log1p(exp(-|a - b|))
    return (a if a > b else b) + log1p(exp(-fabs(a - b)))


cdef void _expand_blocks(const double* mean, const Py_ssize_t* starts, Py_ssize_t n_blocks,
                         floating* out) noexcept nogil:
    # out[starts[b]:starts[b+1]] = mean[b], last block first so that `mean` may live inside `out`
    cdef Py_ssize_t b, i
    cdef double value
    for b in range(n_blocks - 1, -1, -1):
        value = mean[b]
        for i in range(starts[b], starts[b + 1]):
            out[i] = <floating>value


cdef Py_ssize_t _pav_kl_row(const floating* s, const floating* log_w, Py_ssize_t n, bint increasing,
                            double* value, double* lse_s, double* lse_w, Py_ssize_t* starts) noexcept nogil:
    # twin of _pav_kl_row in _isotonic.py: v_B = logsumexp(s_B) - logsumexp(log_w_B)
    cdef Py_ssize_t i, top = -1
    for i in range(n):
        top += 1
        starts[top] = i
        lse_s[top] = s[i]
        lse_w[top] = log_w[i]
        value[top] = lse_s[top] - lse_w[top]
        while top > 0 and not _in_order(value[top - 1], value[top], increasing):
            lse_s[top - 1] = _logaddexp(lse_s[top - 1], lse_s[top])
            lse_w[top - 1] = _logaddexp(lse_w[top - 1], lse_w[top])
            value[top - 1] = lse_s[top - 1] - lse_w[top - 1]
            top -= 1
    starts[top + 1] = n
    return top + 1


def isotonic_l2(const floating[:, ::1] y, const floating[:, ::1] weights, floating[:, ::1] out,
                Py_ssize_t[:, ::1] starts, Py_ssize_t[::1] n_blocks, bint increasing):
    """Twin of ``refefl.projections._isotonic.isotonic_l2`` (weighted Euclidean PAV, row by row)."""
    cdef Py_ssize_t r, m = y.shape[0], n = y.shape[1]
    cdef bint weighted = weights.shape[1] > 0
    cdef Scratch scratch
    cdef double* mean
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        # float64 rows keep the block means inside `out` (expanded last block first); float32 rows need scratch
        scratch = Scratch(NULL, 0)
        if not scratch_reserve(&scratch, (n if floating is float else 0) + (n if weighted else 0) + 1):
            failed_rows[0] = 1
        for r in prange(m, schedule="static"):
            if failed_rows[0]:
                continue
            mean = <double*>&out[r, 0] if floating is double else scratch.data
            n_blocks[r] = _pav_l2_row(&y[r, 0], &weights[r, 0] if weighted else NULL, n, increasing,
                                      mean, scratch.data + (n if floating is float else 0), &starts[r, 0])
            _expand_blocks(mean, &starts[r, 0], n_blocks[r], &out[r, 0])
        scratch_release(&scratch)
    if failed:
        raise MemoryError("isotonic_l2: no memory for the block stack")


def isotonic_kl(const floating[:, ::1] s, const floating[:, ::1] log_w, floating[:, ::1] out,
                Py_ssize_t[:, ::1] starts, Py_ssize_t[::1] n_blocks, bint increasing):
    """Twin of ``refefl.projections._isotonic.isotonic_kl`` (entropic PAV, row by row)."""
    cdef Py_ssize_t r, m = s.shape[0], n = s.shape[1]
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        scratch = Scratch(NULL, 0)
        if not scratch_reserve(&scratch, 3 * n):
            failed_rows[0] = 1
        for r in prange(m, schedule="static"):
            if failed_rows[0]:
                continue
            n_blocks[r] = _pav_kl_row(&s[r, 0], &log_w[r, 0], n, increasing,
                                      scratch.data, scratch.data + n, scratch.data + 2 * n, &starts[r, 0])
            _expand_blocks(scratch.data, &starts[r, 0], n_blocks[r], &out[r, 0])
        scratch_release(&scratch)
    if failed:
        raise MemoryError("isotonic_kl: no memory for the block stacks")
