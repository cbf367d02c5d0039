"""Plackett-Luce rankings by an exponential race: twin of ``refefl.partition._plackett_luce.plackett_luce_sample``.

Per sample (one row of k noise draws): the k arrival keys, formed as NumPy forms them (so that both twins sort
the same numbers), an insertion sort of the item indices by key (a bottom-up merge sort above INSERTION_MAX
items), then the tail sums of the ranked weights: their product, or on the wide-range branch each tail relative
to its running maximum. The branch is chosen once for the whole batch, by the same test as the NumPy twin.
float64 only, as the NumPy twin (``Permutations.sample`` passes float64). Samples are shared by the threads.
"""
import numpy as np

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log

from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS, Scratch, scratch_release, scratch_reserve

cdef enum:
    INSERTION_MAX = 16  # rows of at most this many items are insertion-sorted
# _PRODUCT_SAFE in _plackett_luce.py
cdef double PRODUCT_SAFE = 600.0


cdef void sort_by_key(double* key, Py_ssize_t* order, Py_ssize_t k, double* spare_key,
                      Py_ssize_t* spare_order) noexcept nogil:
    # order[0..k) = 0..k-1 sorted by increasing key (np.argsort on the row; `key` is permuted alongside)
    cdef Py_ssize_t i, j, width, lo, mid, hi, t
    cdef double v
    cdef double* src_k = key
    cdef double* dst_k = spare_key
    cdef double* tmp_k
    cdef Py_ssize_t* src_o = order
    cdef Py_ssize_t* dst_o = spare_order
    cdef Py_ssize_t* tmp_o
    for i in range(k):
        order[i] = i
    if k <= INSERTION_MAX:
        for i in range(1, k):
            v = key[i]
            j = i
            while j > 0 and key[j - 1] > v:
                key[j] = key[j - 1]
                order[j] = order[j - 1]
                j -= 1
            key[j] = v
            order[j] = i
        return
    width = 1
    while width < k:
        lo = 0
        while lo < k:
            mid = lo + width if lo + width < k else k
            hi = lo + 2 * width if lo + 2 * width < k else k
            i = lo
            j = mid
            for t in range(lo, hi):
                if j < hi and (i >= mid or src_k[j] < src_k[i]):
                    dst_k[t] = src_k[j]
                    dst_o[t] = src_o[j]
                    j += 1
                else:
                    dst_k[t] = src_k[i]
                    dst_o[t] = src_o[i]
                    i += 1
            lo = hi
        tmp_k = src_k
        src_k = dst_k
        dst_k = tmp_k
        tmp_o = src_o
        src_o = dst_o
        dst_o = tmp_o
        width *= 2
    if src_o != order:
        for t in range(k):
            order[t] = src_o[t]


def plackett_luce_sample(const double[:, ::1] logits, const double[:, :, ::1] exponentials):
    """Twin of ``refefl.partition._plackett_luce.plackett_luce_sample``."""
    cdef Py_ssize_t n = logits.shape[0], k = logits.shape[1], m = exponentials.shape[1]
    cdef Py_ssize_t i, t, r, row
    cdef double lowest = 0
    # shifted = logits - logits.max(axis=1, keepdims=True), weights = exp(shifted), their reciprocals
    cdef double[:, ::1] shifted = np.empty((n, k))
    cdef double[:, ::1] inverse = np.empty((n, k))
    cdef double[:, ::1] weights = np.empty((n, k))
    cdef double[::1] shifted_sum = np.zeros(n)
    sigma_arr = np.empty((n, m, k), dtype=np.intp)
    log_prob_arr = np.empty((n, m))
    cdef Py_ssize_t[:, :, ::1] sigma = sigma_arr
    cdef double[:, ::1] log_prob = log_prob_arr
    cdef bint wide
    cdef double tail, product, total, top, new_top, score
    cdef double* key
    cdef Py_ssize_t* order
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    with nogil:
        for i in range(n):
            top = logits[i, 0]
            for t in range(1, k):
                if logits[i, t] > top:
                    top = logits[i, t]
            for t in range(k):
                shifted[i, t] = logits[i, t] - top
                shifted_sum[i] += shifted[i, t]
                if shifted[i, t] < lowest:
                    lowest = shifted[i, t]
        # k * (np.ptp(shifted) + np.log(k)) < _PRODUCT_SAFE: every row's maximum is 0
        wide = not (k * (-lowest + log(<double>k)) < PRODUCT_SAFE)
        for i in range(n):
            for t in range(k):
                weights[i, t] = exp(shifted[i, t])
                inverse[i, t] = 1.0 / weights[i, t]
    with nogil, parallel(use_threads_if=n * m > 1 and n * m * k >= PARALLEL_MIN_ELEMENTS):
        # the keys, the merge sort's spare keys and its spare order (Py_ssize_t in 8-byte slots)
        scratch = Scratch(NULL, 0)
        if not scratch_reserve(&scratch, 3 * k):
            failed_rows[0] = 1
        for row in prange(n * m, schedule="static"):
            if failed_rows[0]:
                continue
            i = row // m
            key = scratch.data
            order = &sigma[i, row % m, 0]
            for t in range(k):
                if wide:  # np.log(exponentials) - shifted[:, None, :]
                    key[t] = log(exponentials[i, row % m, t]) - shifted[i, t]
                else:  # exponentials * (1.0 / weights)[:, None, :]
                    key[t] = exponentials[i, row % m, t] * inverse[i, t]
            sort_by_key(key, order, k, scratch.data + k, <Py_ssize_t*>(scratch.data + 2 * k))
            if wide:  # plackett_luce_log_prob(shifted, sigma): running tail maximum and rescaled tail sum
                top = shifted[i, order[k - 1]]
                tail = 1.0
                total = 0.0  # the last term, (s − s) − log 1
                for r in range(k - 2, -1, -1):
                    score = shifted[i, order[r]]
                    new_top = top if top > score else score  # np.maximum
                    tail = tail * exp(top - new_top) + exp(score - new_top)
                    top = new_top
                    total = total + ((score - top) - log(tail))
            else:  # shifted.sum(axis=1)[:, None] - np.log(_tail_sum_product(np.take(weights.ravel(), ...)))
                tail = weights[i, order[k - 1]]
                product = tail
                for r in range(k - 2, -1, -1):
                    tail = tail + weights[i, order[r]]
                    product = product * tail
                total = shifted_sum[i] - log(product)
            log_prob[i, row % m] = total
        scratch_release(&scratch)
    if failed:
        raise MemoryError("plackett_luce_sample: no memory for the row buffers")
    return sigma_arr, log_prob_arr
