"""Soft sort and soft rank in one pass per row: twins of ``order_keys`` and ``projection_permutahedron_rows`` in
``refefl.projections._permutahedron_kernels`` (its docstring explains the split around NumPy's sort).

Per row, once the keys are sorted: gather g = sign(ε)·x[σ] and check in the same pass that it is nonincreasing;
if not, an insertion sort puts in order the near-ties that truncated float64 keys leave (a bottom-up merge sort
takes over if it has moved more than n entries, so adversarial rows stay O(n log n)); PAV; the block formulas;
the scatter of μ to the original positions. Euclidean: the shared PAV row of ``_pav.pxd`` on z − w.

Entropic, two paths, neither with ``isotonic_kl``'s logaddexp chains (each pooling waits on four transcendental
calls: 25 ms of PAV alone for a soft rank of 10^6 entries). With E = e^{s − s_0}, L = e^{ℓ − ℓ_0}, a block's value
logsumexp(s_B) − logsumexp(ℓ_B) is s_0 − ℓ_0 + log(Σ_B E / Σ_B L), and Σ_B E / Σ_B L is the mean of E/L with
weights L: entropic PAV is the weighted Euclidean PAV of E/L. When the spreads of s and ℓ over the row add up to
at most 600 (no product below e^{−600}: the common case), it runs as such (``_pav_l2_row``), after one
vectorized pass of exponentials (``exp_nonpositive``). Otherwise each block keeps its sums relative to its first
entry (``pav_kl_sorted``: two libm exponentials per entry, which do not wait on each other). The NumPy twin takes
the same paths: _sorted_rows, then _euclidean_values, _kl_linear_values or _kl_ratio_values (_pav_kl_ratio_row).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.float cimport DBL_MIN
from libc.math cimport exp, fabs, log
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from refefl_ext._pav cimport _pav_l2_row
from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS, Scratch, scratch_release, scratch_reserve

cdef uint64_t SIGN_BIT = (<uint64_t>1) << 63
# the entropic PAV runs on E/L with weights L when the spreads of s and ℓ add up to at most this (LINEAR_SPREAD in
# refefl/projections/_permutahedron_kernels.py)
cdef double LINEAR_SPREAD = 600.0
# below this, e^{ℓ_k − ℓ_f} may have underflowed with e^{s_k − s_f}: the test then takes e^{(s_k − s_f) − (ℓ_k − ℓ_f)}
cdef double TINY = 1e-290


cdef struct Reciprocal:
    double inv   # 1/(e·unit)
    double unit  # 2^64 for a subnormal e (whose 1/e would overflow), else 1


cdef inline Reciprocal reciprocal(double e) noexcept nogil:
    # _reciprocal in _permutahedron_kernels.py
    cdef double unit = 18446744073709551616.0 if e < DBL_MIN else 1.0
    return Reciprocal(1.0 / (e * unit), unit)


cdef inline double over_e(double diff, Reciprocal e) noexcept nogil:
    # diff/e as (diff · inv) · unit: a multiplication where a division would cost ten times as much
    return diff * e.inv * e.unit


cdef inline double exp_nonpositive(double x) noexcept nogil:
    # e^x for x in [−708, 0], branch-free so that loops over it vectorize: x = k·ln 2 + r, |r| ≤ ln(2)/2
    # (k rounded by adding 1.5·2^52, whose low bits then hold k), e^r by its Taylor polynomial of degree 13
    # (remainder < 5e-18), 2^k written into the exponent bits. Within 2 ulp of libm's exp.
    cdef double t = x * 1.4426950408889634 + 6755399441055744.0
    cdef double k = t - 6755399441055744.0
    cdef double r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10  # ln 2 in two parts
    cdef double p = 1.0 / 6227020800.0
    cdef uint64_t bits
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    memcpy(&bits, &t, 8)
    bits = (bits + 1023) << 52
    memcpy(&t, &bits, 8)
    return p * t


cdef inline uint64_t order_code(floating v) noexcept nogil:
    # IEEE bits in the top of a word, negatives with every bit flipped, others only the sign: unsigned order
    # = numeric order
    cdef uint32_t low
    cdef uint64_t bits
    if floating is float:
        memcpy(&low, &v, 4)
        bits = (<uint64_t>low) << 32
    else:
        memcpy(&bits, &v, 8)
    return bits ^ ((<uint64_t>((<int64_t>bits) >> 63)) | SIGN_BIT)


def order_keys(const floating[:, ::1] x, bint decreasing, uint64_t[:, ::1] keys):
    """Twin of ``refefl.projections._permutahedron_kernels.order_keys``."""
    cdef Py_ssize_t r, i, m = x.shape[0], n = x.shape[1]
    cdef uint64_t mask = 0, flip = ~(<uint64_t>0) if decreasing else 0
    while mask < <uint64_t>(n - 1):  # index_mask(n)
        mask = 2 * mask + 1
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        for r in prange(m, schedule="static"):
            # keys = (code(x) ^ flip) & ~mask | arange(n)
            for i in range(n):
                keys[r, i] = ((order_code(x[r, i]) ^ flip) & ~mask) | <uint64_t>i


cdef void merge_sort(double* g, Py_ssize_t* order, Py_ssize_t n, double* spare_g,
                     Py_ssize_t* spare_o) noexcept nogil:
    # (g, order) stably sorted by decreasing g: bottom-up runs of width 1, 2, 4, ... merged into the spares
    cdef Py_ssize_t width = 1, lo, mid, hi, i, j, k
    cdef double* src_g = g
    cdef double* dst_g = spare_g
    cdef double* tmp_g
    cdef Py_ssize_t* src_o = order
    cdef Py_ssize_t* dst_o = spare_o
    cdef Py_ssize_t* tmp_o
    while width < n:
        lo = 0
        while lo < n:
            mid = lo + width if lo + width < n else n
            hi = lo + 2 * width if lo + 2 * width < n else n
            i = lo
            j = mid
            for k in range(lo, hi):
                # the right run goes first only when strictly larger: ties keep their order
                if j < hi and (i >= mid or src_g[j] > src_g[i]):
                    dst_g[k] = src_g[j]
                    dst_o[k] = src_o[j]
                    j += 1
                else:
                    dst_g[k] = src_g[i]
                    dst_o[k] = src_o[i]
                    i += 1
            lo = hi
        tmp_g = src_g
        src_g = dst_g
        dst_g = tmp_g
        tmp_o = src_o
        src_o = dst_o
        dst_o = tmp_o
        width *= 2
    if src_g != g:
        memcpy(g, src_g, n * sizeof(double))
        memcpy(order, src_o, n * sizeof(Py_ssize_t))


cdef void gather_sorted(const floating* x, Py_ssize_t* order, Py_ssize_t n, double sign, double* g,
                        double* spare_g, Py_ssize_t* spare_o) noexcept nogil:
    # g = sign·x[order]; then order, g ← their stable sort by decreasing g (np.argsort(-g, kind="stable"))
    cdef Py_ssize_t i, j, o, moved = 0
    cdef int unsorted = 0
    cdef double v
    g[0] = sign * x[order[0]]
    for i in range(1, n):
        g[i] = sign * x[order[i]]
        unsorted |= g[i - 1] < g[i]
    if not unsorted:
        return
    # insertion sort: keys truncated to 64 − ⌈log₂ n⌉ bits leave only near-equal entries out of order
    for i in range(1, n):
        v = g[i]
        if g[i - 1] >= v:
            continue
        o = order[i]
        j = i
        while j > 0 and g[j - 1] < v:
            g[j] = g[j - 1]
            order[j] = order[j - 1]
            j -= 1
        g[j] = v
        order[j] = o
        moved += i - j
        if moved > n:  # far from sorted (any order is accepted): finish in O(n log n)
            merge_sort(g, order, n, spare_g, spare_o)
            return


cdef void pav_l2_input(const double* g, const double* w, Py_ssize_t n, Reciprocal e, double* y) noexcept nogil:
    # y = z − w, z = (g − g_0)/e, or for a row wider than the cap 2(w_0 − w_{n−1}) + 1 + 2^-48 max(|w_0|, |w_{n−1}|),
    # the cumulative sum of the capped gaps (_pav_input)
    cdef Py_ssize_t i
    cdef double cap = 2 * (w[0] - w[n - 1]) + 1 + 2.0 ** -48 * max(fabs(w[0]), fabs(w[n - 1])), gap, total = 0.0
    if -over_e(g[n - 1] - g[0], e) <= cap:
        for i in range(n):
            y[i] = over_e(g[i] - g[0], e) - w[i]
        return
    y[0] = -total - w[0]
    for i in range(1, n):
        gap = over_e(g[i - 1] - g[i], e)
        total += gap if gap < cap else cap
        y[i] = -total - w[i]


cdef void kl_linear_input(const double* g, const double* lw, Py_ssize_t n, Reciprocal e, double* y,
                          double* weight) noexcept nogil:
    # weight = e^{ℓ − ℓ_0}, y = e^{s − s_0} / weight, s = g/e (exponents ≥ −600: no overflow or underflow);
    # the first two lines of _kl_linear_values in the twin
    cdef Py_ssize_t i
    cdef double l
    for i in range(n):
        l = exp_nonpositive(lw[i] - lw[0])
        y[i] = exp_nonpositive(over_e(g[i] - g[0], e)) / l
        weight[i] = l


cdef Py_ssize_t pav_kl_sorted(const double* g, const double* lw, Py_ssize_t n, Reciprocal e, double* sum_s,
                              double* sum_w, Py_ssize_t* starts) noexcept nogil:
    # Entropic PAV (decreasing fit) of s = g/e against ℓ = lw, both nonincreasing, in ratio form (the twin's
    # _pav_kl_ratio_row). Block t with
    # first entry f keeps S_t = Σ_B e^{s_i − s_f} ≥ 1 and W_t = Σ_B e^{ℓ_i − ℓ_f} ≥ 1, so its value (isotonic_kl's
    # logsumexp(s_B) − logsumexp(ℓ_B)) is s_f − ℓ_f + log(S_t/W_t), and "v_B ≤ v_k: pool" reads
    # S/W ≤ e^{(s_k − s_f) − (ℓ_k − ℓ_f)}, tested as S·e^{ℓ_k − ℓ_f} ≤ W·e^{s_k − s_f}. Every exponent is a
    # difference to a block's first entry: ≤ 0 (no overflow), and underflow only drops terms too small to matter;
    # z is never formed, so no cap is needed.
    cdef Py_ssize_t i = 0, k, f, top = -1
    cdef double s, w, a, b, ds, dl
    while i < n:
        f = i
        s = 1.0
        w = 1.0
        k = i + 1
        # absorb the following entries while the block's value is ≤ theirs
        while k < n:
            ds = over_e(g[k] - g[f], e)
            dl = lw[k] - lw[f]
            a = exp(ds)
            b = exp(dl)
            if (s * b > w * a) if b > TINY else (s > w * exp(ds - dl)):
                break
            s += a
            w += b
            k += 1
        # pool backwards while the previous block's value is ≤ this one's
        while top >= 0:
            ds = over_e(g[f] - g[starts[top]], e)
            dl = lw[f] - lw[starts[top]]
            if sum_s[top] * w > sum_w[top] * s * exp(ds - dl):
                break
            s = sum_s[top] + exp(ds) * s
            w = sum_w[top] + exp(dl) * w
            f = starts[top]
            top -= 1
        top += 1
        sum_s[top] = s
        sum_w[top] = w
        starts[top] = f
        i = k
    starts[top + 1] = n
    return top + 1


cdef double sum_deviations(const double* x, Py_ssize_t f, Py_ssize_t l) noexcept nogil:
    # Σ_{i ∈ [f, l)} (x_i − x_f), in four partial sums (a single running sum waits on every addition)
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, first = x[f]
    cdef Py_ssize_t i = f
    while i + 4 <= l:
        s0 += x[i] - first
        s1 += x[i + 1] - first
        s2 += x[i + 2] - first
        s3 += x[i + 3] - first
        i += 4
    while i < l:
        s0 += x[i] - first
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef void expand_l2(const double* g, const double* w, Reciprocal e, const Py_ssize_t* starts, Py_ssize_t n_blocks,
                    const Py_ssize_t* order, floating* out) noexcept nogil:
    # out[σ_i] = d_i − mean_B d + w_f + mean_B(w − w_f), d = (g − g_f)/e, on each block B = [f, l)
    cdef Py_ssize_t b, i, f, l
    cdef double mean_d, mean_w
    for b in range(n_blocks):
        f = starts[b]
        l = starts[b + 1]
        mean_d = over_e(sum_deviations(g, f, l), e) / (l - f)
        mean_w = sum_deviations(w, f, l) / (l - f)
        for i in range(f, l):
            out[order[i]] = <floating>(over_e(g[i] - g[f], e) - mean_d + w[f] + mean_w)


cdef void expand_kl(const double* g, const double* lw, Reciprocal e, const Py_ssize_t* starts, Py_ssize_t n_blocks,
                    const double* sum_s, const double* sum_w, const Py_ssize_t* order,
                    floating* out) noexcept nogil:
    # out[σ_i] = d_i − lse_B d + ℓ_f + lse_B(ℓ − ℓ_f), with lse_B d = log S_B and lse_B(ℓ − ℓ_f) = log W_B
    # (the last lines of _kl_ratio_values in the twin)
    cdef Py_ssize_t b, i, f
    cdef double lse_d, lse_w
    for b in range(n_blocks):
        f = starts[b]
        lse_d = log(sum_s[b])
        lse_w = log(sum_w[b])
        for i in range(f, starts[b + 1]):
            out[order[i]] = <floating>(over_e(g[i] - g[f], e) - lse_d + lw[f] + lse_w)


cdef void expand_kl_linear(const double* g, const double* lw, Reciprocal e, const Py_ssize_t* starts,
                           Py_ssize_t n_blocks, const double* mean, const Py_ssize_t* order,
                           floating* out) noexcept nogil:
    # out[σ_i] = (s_i − s_0) + ℓ_0 − log(Σ_B e^{s − s_0} / Σ_B e^{ℓ − ℓ_0}), the block's mean of E/L being mean[b];
    # a singleton gets ℓ_f itself (as from expand_kl), without a logarithm (the last lines of _kl_linear_values)
    cdef Py_ssize_t b, i, f
    cdef double shift
    for b in range(n_blocks):
        f = starts[b]
        if starts[b + 1] == f + 1:
            out[order[f]] = <floating>lw[f]
            continue
        shift = lw[0] - log(mean[b])
        for i in range(f, starts[b + 1]):
            out[order[i]] = <floating>(over_e(g[i] - g[0], e) + shift)


def projection_permutahedron_rows(const floating[:, ::1] x, Py_ssize_t[:, ::1] order, const double[:, ::1] ws,
                                  double eps, bint kl, floating[:, ::1] out, Py_ssize_t[:, ::1] starts,
                                  Py_ssize_t[::1] n_blocks):
    """Twin of ``refefl.projections._permutahedron_kernels.projection_permutahedron_rows``."""
    cdef Py_ssize_t r, m = x.shape[0], n = x.shape[1], w_step = n if ws.shape[0] > 1 else 0
    cdef double sign = 1.0 if eps > 0 else -1.0
    cdef Reciprocal e = reciprocal(sign * eps)
    cdef const double* w
    cdef double* g
    cdef double* work
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_rows = &failed  # written through a pointer: shared by the threads
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        # g, then the PAV input and block means (Q) or the block sums S and W (E)
        scratch = Scratch(NULL, 0)
        if not scratch_reserve(&scratch, (3 if kl else 2) * n):
            failed_rows[0] = 1
        for r in prange(m, schedule="static"):
            if failed_rows[0]:
                continue
            g = scratch.data
            work = g + n
            w = &ws[0, 0] + r * w_step
            # the starts row doubles as the merge sort's spare order (PAV writes it afterwards)
            gather_sorted(&x[r, 0], &order[r, 0], n, sign, g, work, &starts[r, 0])
            if kl and over_e(g[0] - g[n - 1], e) + (w[0] - w[n - 1]) <= LINEAR_SPREAD:
                kl_linear_input(g, w, n, e, work, work + n)
                n_blocks[r] = _pav_l2_row(<const double*>work, <const double*>(work + n), n, False, work, work + n,
                                          &starts[r, 0])
                expand_kl_linear(g, w, e, &starts[r, 0], n_blocks[r], work, &order[r, 0], &out[r, 0])
            elif kl:
                n_blocks[r] = pav_kl_sorted(g, w, n, e, work, work + n, &starts[r, 0])
                expand_kl(g, w, e, &starts[r, 0], n_blocks[r], work, work + n, &order[r, 0], &out[r, 0])
            else:
                pav_l2_input(g, w, n, e, work)
                n_blocks[r] = _pav_l2_row(<const double*>work, <const double*>NULL, n, False, work, NULL,
                                          &starts[r, 0])
                expand_l2(g, w, e, &starts[r, 0], n_blocks[r], &order[r, 0], &out[r, 0])
        scratch_release(&scratch)
    if failed:
        raise MemoryError("projection_permutahedron_rows: no memory for the row buffers")
