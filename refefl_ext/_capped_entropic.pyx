"""Entropic map onto the capped simplex {0 ≤ y ≤ 1, Σy = s}, y = σ(x − τ): twin of
``refefl.projections._capped_simplex.capped_entropic_rows``.

The twin's root finding (safeguarded Newton on F = log(S/s) − log(C/(m − s)) in t = τ/2 ± 1, the same bracket,
the same steps), with one exponential per score in all: w_i = e^{z_max − z_i} is stored once (in the margins
buffer, by an exponential that vectorizes), and σ(z_i − τ) = 1/(1 + e^{τ − z_max} w_i) then costs a division
per evaluation of F. This is exact to rounding while every e^{τ − z_i} stays a normal float (a score spread of
at most 600, a bracket within 700 of the scores); other rows evaluate σ directly, as the twin does. Sums are
pairwise over blocks (they vectorize, and round like NumPy's).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from cython.view cimport array as cvarray
from libc.float cimport DBL_MAX
from libc.math cimport INFINITY, exp, fabs, log, log1p, nextafter, sqrt
from libc.stdint cimport int64_t

from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS, ScoreScan, scan_scores


cdef double[13] INV_FACTORIAL
INV_FACTORIAL[:] = [1.0, 1.0, 1 / 2.0, 1 / 6.0, 1 / 24.0, 1 / 120.0, 1 / 720.0, 1 / 5040.0, 1 / 40320.0, 1 / 362880.0,
                    1 / 3628800.0, 1 / 39916800.0, 1 / 479001600.0]


cdef inline double expit_pair(double u, double* complement) noexcept nogil:
    # σ(u), and σ(−u) in *complement, both without cancellation
    cdef double e = exp(-fabs(u)), big = 1.0 / (1.0 + e), small = e * big
    complement[0] = small if u >= 0 else big
    return big if u >= 0 else small


cdef inline double logit(double p) noexcept nogil:
    return log(p / (1.0 - p))


cdef union Bits:
    double d
    int64_t i


cdef inline double exp_nonneg(double v) noexcept nogil:
    # e^v for 0 ≤ v ≤ 700 (inf above), in a form that vectorizes (libm's exp does not): v = k ln2 + r with
    # |r| ≤ ln2/2 (Cody-Waite: k ln2_hi is exact), e^r by its Taylor series to degree 13 (truncation below
    # 4e-18), 2^k built from the bits of k; within about one ulp, as libm
    cdef Bits t, scale
    cdef double k, r, p = 1.0 / 6227020800.0
    cdef int j
    t.d = v * 1.4426950408889634 + 6755399441055744.0  # 1.5·2^52: k lands in the low bits
    k = t.d - 6755399441055744.0
    r = (v - k * 0.6931471803691238) - k * 1.9082149292705877e-10
    for j in range(12, -1, -1):  # Horner on 1/j! (the constant loop unrolls)
        p = p * r + INV_FACTORIAL[j]
    scale.i = (t.i + 1023) << 52
    return p * scale.d if v <= 700.0 else INFINITY


cdef struct Row:
    # a row of scores centred on their mid-range, z = x − centre, and its finite range
    Py_ssize_t n
    Py_ssize_t m      # finite scores
    double centre
    double z_max
    double z_min
    double* w         # e^{z_max − z}, or NULL: σ is evaluated directly
    double* z         # z itself once re-anchored (_recentred_threshold), or NULL: z = x − centre


# the twin's TINY_S, RECENTRE_ABOVE, _MAX_RECENTRES and _CLIP
cdef double TINY_S = 2.0 ** -60
cdef double RECENTRE_ABOVE = 1024.0
cdef int MAX_RECENTRES = 40
cdef double CLIP = 2.0 ** 1000


cdef inline double row_z(const floating* x, const Row* row, Py_ssize_t i) noexcept nogil:
    return row.z[i] if row.z != NULL else x[i] - row.centre


cdef enum:
    BLOCK = 256  # the sums run over blocks of this many terms, each summed pairwise
    LANES = 8  # the smallest block fold sums over


cdef inline Py_ssize_t padded(Py_ssize_t count) noexcept nogil:
    # the power of two ≥ count (≥ LANES) that fold sums over
    cdef Py_ssize_t size = LANES
    while size < count:
        size *= 2
    return size


cdef inline double fold(double* v, Py_ssize_t size) noexcept nogil:
    # Σ v[:size] (size a power of two), pairwise, in place: each halving is an elementwise loop, so it
    # vectorizes (a running sum would not: floating-point addition is not associative), and the rounding grows
    # as log(size)
    cdef Py_ssize_t h = size // 2, i
    while h >= 1:
        for i in range(h):
            v[i] = v[i] + v[i + h]
        h //= 2
    return v[0]


cdef void sigmoid_terms(const floating* x, const Row* row, Py_ssize_t start, Py_ssize_t count, double tau,
                        double* p, double* c, double* d) noexcept nogil:
    # p = σ(z − τ), c = σ(τ − z) (0 on −inf scores), d = p c, for z[start:start + count], zero-padded for fold
    cdef Py_ssize_t i
    cdef double E = exp(tau - row.z_max), q
    if row.w != NULL:
        for i in range(count):  # σ(z − τ) = 1/(1 + q), σ(τ − z) = q/(1 + q), q = e^{τ − z_max} w (inf: −inf score)
            q = E * row.w[start + i]
            p[i] = 1.0 / (1.0 + q)
            c[i] = q * p[i] if q < INFINITY else 0.0
    else:
        for i in range(count):
            p[i] = expit_pair(row_z(x, row, start + i) - tau, &c[i])
            c[i] = c[i] if x[start + i] > -INFINITY else 0.0
    for i in range(count):
        d[i] = p[i] * c[i]
    for i in range(count, padded(count)):
        p[i] = c[i] = d[i] = 0.0


cdef double entropic_residual(const floating* x, const Row* row, double tau, double s,
                              double* slope) noexcept nogil:
    # F(τ) = log(S/s) − log(C/(m − s)) and F'(τ) = −Σσ(u)σ(−u) (1/S + 1/C), u = z − τ
    cdef double p[BLOCK]
    cdef double c[BLOCK]
    cdef double d[BLOCK]
    cdef double S = 0.0, C = 0.0, D = 0.0, excess, deficit, finer
    cdef Py_ssize_t start = 0, count
    while start < row.n:
        count = min(<Py_ssize_t>BLOCK, row.n - start)
        sigmoid_terms(x, row, start, count, tau, p, c, d)
        count = padded(count)
        S, C, D = S + fold(p, count), C + fold(c, count), D + fold(d, count)
        start += BLOCK
    slope[0] = -D * (1.0 / S + 1.0 / C)
    # the twin's _excesses: near the root, S − s and (m − s) − C both come from the smaller sum
    excess, deficit = S - s, (row.m - s) - C
    finer = excess if s <= row.m - s else deficit
    if fabs(finer) <= 0.5 * min(s, row.m - s):
        excess = deficit = finer
    return log1p(excess / s) - log1p(-deficit / (row.m - s))


cdef int entropic_root(const floating* x, const Row* row, double s, double half_lo, double half_hi, int max_iter,
                       double* tau, double* residual, double* width) noexcept nogil:
    # the twin's _entropic_threshold: find_root_decreasing on t = τ/2 ± 1 (Newton point if strictly inside the
    # bracket, the next float toward the far end if Newton stalls, else the midpoint), the sign that of the root
    # (the bracket's, or F(0)'s), after the bracket is narrowed to a factor 2**10;
    # returns the evaluations of F, negated if the budget ran out
    cdef int it, probed = 0
    cdef double side = 1.0 if half_lo > 0 else (-1.0 if half_hi < 0 else 0.0), f = 0.0, slope, newton, mid, t
    cdef double near, far
    if side == 0:  # which side of 0 the root is on (F(0) = 0: τ = 0, an empty bracket)
        f = entropic_residual(x, row, 0.0, s, &slope)
        side, probed = (1.0 if f > 0 else (-1.0 if f < 0 else 0.0)), 1
    half_lo = max(half_lo, 0.0) if side > 0 else (half_lo if side < 0 else 0.0)
    half_hi = min(half_hi, 0.0) if side < 0 else (half_hi if side > 0 else 0.0)
    # the twin's _narrow: bisect the binary exponent of |τ/2| while the bracket spans more than a factor 2**10
    near, far = (half_lo, half_hi) if side > 0 else (-half_hi, -half_lo)
    while far > 1024.0 * max(near, 1.0):
        mid = sqrt(max(near, 1.0)) * sqrt(far)
        if (entropic_residual(x, row, 2.0 * side * mid, s, &slope) > 0) == (side > 0):
            near = mid
        else:
            far = mid
        probed += 1
    half_lo, half_hi = (near + side, far + side) if side > 0 else (-far + side, -near + side)
    t = half_lo + (half_hi - half_lo) / 2
    for it in range(1, max_iter + 1):
        f = entropic_residual(x, row, 2.0 * (t - side), s, &slope)
        if f > 0:
            half_lo = t
        else:
            half_hi = t
        mid = half_lo + (half_hi - half_lo) / 2
        if f == 0 or mid == half_lo or mid == half_hi:
            tau[0], residual[0], width[0] = 2.0 * (t - side), f, 2.0 * (half_hi - half_lo)
            return it + probed
        newton = t - f / (2.0 * slope)
        if newton == t:
            newton = nextafter(t, half_hi if f > 0 else half_lo)
        t = newton if half_lo < newton < half_hi else mid
    tau[0], residual[0], width[0] = 2.0 * (t - side), f, 2.0 * (half_hi - half_lo)
    return -(max_iter + probed)


cdef void entropic_bracket(const Row* row, double lse, double lse_neg, double total, double total_neg, double s,
                           double* half_lo, double* half_hi) noexcept nogil:
    # the twin's _entropic_bracket from the two log-sum-exps of the row and their sums Σ e^{z − z_max},
    # Σ e^{z_min − z}
    cdef double lo, hi, pad, top, bottom
    hi = min(row.z_max - logit(s / row.m), lse - log(s))
    lo = max(row.z_min - logit(s / row.m), log(row.m - s) - lse_neg)
    if s < 1:
        lo = max(lo, row.z_max - logit(s))
    top, bottom = s / total, (row.m - s) / total_neg
    if top < 1:
        lo = max(lo, lse - log(s) + log1p(-top))
    if bottom < 1:
        hi = min(hi, log(row.m - s) - lse_neg - log1p(-bottom))
    half_lo[0], half_hi[0] = lo / 2, max(hi, lo) / 2
    pad = 2.0 ** -20 * (1.0 + (half_hi[0] - half_lo[0])) + 2.0 ** -40 * max(fabs(half_lo[0]), fabs(half_hi[0]))
    half_lo[0] -= pad
    half_hi[0] += pad


cdef void log_sum_exps(const floating* x, Row* row, double* lse, double* lse_neg, double* sum_pos,
                       double* sum_neg) noexcept nogil:
    # LSE(z) and LSE(−z) over the finite z. With a spread up to 600, w = e^{z_max − z} is stored on the way and
    # both come from it (Σ 1/w and Σ w): the only exponentials of the fast path
    cdef Py_ssize_t i, start, count
    cdef double a[BLOCK]
    cdef double b[BLOCK]
    cdef double total = 0.0, total_neg = 0.0, z
    if row.w == NULL:
        for i in range(row.n):
            if x[i] > -INFINITY:
                z = row_z(x, row, i)
                total += exp(z - row.z_max)
                total_neg += exp(row.z_min - z)
        lse[0], lse_neg[0] = row.z_max + log(total), -row.z_min + log(total_neg)
        sum_pos[0], sum_neg[0] = total, total_neg
        return
    for i in range(row.n):
        row.w[i] = exp_nonneg(row.z_max - (x[i] - row.centre))  # inf on −inf scores
    start = 0
    while start < row.n:
        count = min(<Py_ssize_t>BLOCK, row.n - start)
        for i in range(count):
            a[i] = 1.0 / row.w[start + i]
            b[i] = row.w[start + i] if row.w[start + i] < INFINITY else 0.0
        for i in range(count, padded(count)):
            a[i] = b[i] = 0.0
        count = padded(count)
        total, total_neg = total + fold(a, count), total_neg + fold(b, count)
        start += BLOCK
    lse[0], lse_neg[0] = row.z_max + log(total), -row.z_max + log(total_neg)
    sum_pos[0], sum_neg[0] = total, total_neg * exp(row.z_min - row.z_max)  # Σ e^{z_min − z}


cdef int entropic_row(const floating* x, Py_ssize_t n, double s, double x_max, Py_ssize_t m, int max_iter,
                      floating* y, double* u, double* residual, double* width) noexcept nogil:
    # one row of capped_entropic_rows (x_max: its max, m: its finite entries; u doubles as the store of w);
    # returns the evaluations of F (negated: unconverged)
    cdef Row row
    cdef Py_ssize_t i
    cdef double x_min = INFINITY, lse, lse_neg, total, total_neg, half_lo, half_hi, tau, E, unused
    cdef int iterations, more, recentres = 0
    row.n, row.m = n, m
    for i in range(n):
        x_min = x[i] if -INFINITY < x[i] < x_min else x_min
    residual[0] = width[0] = 0.0
    if row.m == s:  # the set is a point: y is the indicator of the finite scores
        for i in range(n):
            y[i] = 1 if x[i] > -INFINITY else 0
            u[i] = INFINITY if x[i] > -INFINITY else -INFINITY
        return 0
    if s <= TINY_S:
        tiny_s_row(x, n, s, x_max, y, u)
        return 0
    row.z = NULL
    row.centre = x_max / 2 + x_min / 2
    row.z_max, row.z_min = x_max - row.centre, x_min - row.centre
    row.w = u if row.z_max - row.z_min <= 600 else NULL
    log_sum_exps(x, &row, &lse, &lse_neg, &total, &total_neg)
    entropic_bracket(&row, lse, lse_neg, total, total_neg, s, &half_lo, &half_hi)
    if 2 * half_hi - row.z_min > 700 or row.z_max - 2 * half_lo > 700:  # e^{τ − z} could leave the normal floats
        row.w = NULL
    iterations = entropic_root(x, &row, s, half_lo, half_hi, max_iter, &tau, residual, width)
    while fabs(tau) > RECENTRE_ABOVE and recentres < MAX_RECENTRES:
        # the twin's _recentred_threshold: search again from the anchor centre + τ (z = x − anchor, clipped, in u)
        row.centre = min(max(row.centre + tau, -DBL_MAX), DBL_MAX)
        for i in range(n):
            u[i] = min(max(x[i] - row.centre, -CLIP), CLIP) if x[i] > -INFINITY else -INFINITY
        row.z, row.w = u, NULL
        row.z_max, row.z_min = min(max(x_max - row.centre, -CLIP), CLIP), min(max(x_min - row.centre, -CLIP), CLIP)
        log_sum_exps(x, &row, &lse, &lse_neg, &total, &total_neg)
        entropic_bracket(&row, lse, lse_neg, total, total_neg, s, &half_lo, &half_hi)
        more = entropic_root(x, &row, s, half_lo, half_hi, max_iter, &tau, residual, width)
        iterations = (abs(iterations) + abs(more)) * (-1 if iterations < 0 or more < 0 else 1)
        recentres += 1
    E = exp(tau - row.z_max)
    if row.w != NULL:
        for i in range(n):  # u = z − τ and y = σ(u) = 1/(1 + e^{τ − z_max} w)
            y[i] = <floating>(1.0 / (1.0 + E * u[i]))
            u[i] = (x[i] - row.centre) - tau
    else:
        for i in range(n):
            u[i] = row_z(x, &row, i) - tau
            y[i] = <floating>expit_pair(u[i], &unused)
    return iterations


cdef void tiny_s_row(const floating* x, Py_ssize_t n, double s, double x_max, floating* y, double* u) noexcept nogil:
    # the twin's _tiny_s_rows: y = s·softmax(x), u = log s + (x − x_max) − log Σ e^{x − x_max}
    cdef Py_ssize_t i
    cdef double total = 0.0, log_total, log_s = log(s)
    for i in range(n):
        if x[i] > -INFINITY:
            total += exp(x[i] - x_max)
    log_total = log(total)
    for i in range(n):
        if x[i] > -INFINITY:
            y[i] = <floating>(s * (exp(x[i] - x_max) / total))
            u[i] = ((x[i] - x_max) - log_total) + log_s
        else:
            y[i], u[i] = 0, -INFINITY


def capped_entropic_rows(const floating[:, ::1] x, double s, floating[:, ::1] out, double[:, ::1] margins,
                         int max_iter, signed char[::1] status):
    """Twin of ``refefl.projections._capped_simplex.capped_entropic_rows``: writes ŷ into ``out`` and the margins
    into ``margins``; returns (iterations, largest final |F|, widest final bracket on τ, converged)."""
    cdef Py_ssize_t r, m = x.shape[0], n = x.shape[1]
    cdef ScoreScan scan
    cdef int[::1] iterations = cvarray((max(m, 1),), sizeof(int), "i")
    cdef double[::1] residual = cvarray((max(m, 1),), sizeof(double), "d")
    cdef double[::1] width = cvarray((max(m, 1),), sizeof(double), "d")
    with nogil, parallel(use_threads_if=m > 1 and m * n >= PARALLEL_MIN_ELEMENTS):
        for r in prange(m, schedule="static"):
            iterations[r], residual[r], width[r] = 0, 0.0, 0.0
            scan = scan_scores(&x[r, 0], n, s)
            status[r] = scan.status
            if scan.status:
                continue
            iterations[r] = entropic_row(&x[r, 0], n, s, scan.maximum, scan.n_finite, max_iter, &out[r, 0], &margins[r, 0],
                                         &residual[r], &width[r])
    return (max([abs(v) for v in iterations[:m]], default=0), max([abs(v) for v in residual[:m]], default=0.0),
            max(width[:m], default=0.0), all(v >= 0 for v in iterations[:m]))
