# The Euclidean PAV row shared by the isotonic and permutahedron kernels (inline, nogil): twin of _pav_l2_row in
# refefl/projections/_isotonic.py.
from cython cimport floating


cdef inline bint _in_order(double prev, double cur, bint increasing) noexcept nogil:
    # adjacent blocks stay apart only when strictly ordered; equal values pool (scipy's convention)
    return prev < cur if increasing else prev > cur


cdef inline bint _sum_before(double sum_wy, double sum_w, double cur, bint increasing) noexcept nogil:
    # _in_order(sum_wy / sum_w, cur) without a division on the branch's path (sum_w > 0)
    return sum_wy < cur * sum_w if increasing else sum_wy > cur * sum_w


cdef inline bint _sum_after(double prev, double sum_wy, double sum_w, bint increasing) noexcept nogil:
    # _in_order(prev, sum_wy / sum_w) without a division
    return prev * sum_w < sum_wy if increasing else prev * sum_w > sum_wy


cdef inline Py_ssize_t _pav_l2_row(const floating* y, const floating* w, Py_ssize_t n, bint increasing,
                                   double* mean, double* weight, Py_ssize_t* starts) noexcept nogil:
    # twin of _pav_l2_row in _isotonic.py; with w == NULL the weights are 1 and block weights are counts.
    # `mean` may alias `y` and `weight` alias `w` (float64): stack entry top is written only below the next
    # entry of y and w still to be read.
    cdef Py_ssize_t i = 0, k, start, top = -1
    cdef double sum_wy, sum_w, w_k
    while i < n:
        # open a block at i and absorb the following points while they are out of order with its mean
        start = i
        w_k = w[i] if w != NULL else 1.0
        sum_wy = w_k * y[i]
        sum_w = w_k
        k = i + 1
        while k < n and not _sum_before(sum_wy, sum_w, y[k], increasing):
            w_k = w[k] if w != NULL else 1.0
            sum_wy += w_k * y[k]
            sum_w += w_k
            k += 1
        # pool backwards with earlier blocks while they are out of order
        while top >= 0 and not _sum_after(mean[top], sum_wy, sum_w, increasing):
            w_k = weight[top] if w != NULL else <double>(start - starts[top])
            sum_wy += w_k * mean[top]
            sum_w += w_k
            start = starts[top]
            top -= 1
        top += 1
        mean[top] = sum_wy / sum_w
        if w != NULL:
            weight[top] = sum_w
        starts[top] = start
        i = k
    starts[top + 1] = n
    return top + 1
