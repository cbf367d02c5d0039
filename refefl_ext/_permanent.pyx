"""Log-permanent by Ryser's formula in Gray-code order: twin of ``refefl.partition._permanent.log_permanent_batch``.

Per matrix (see ``docs/permanent.md``): (1) the Hungarian algorithm (shortest augmenting paths, with potentials)
finds a maximum-weight assignment σ and dual potentials, which scale the matrix to S = L + u + v ≤ 0 with
S[i, σ(i)] = 0, so that 1 ≤ per(e^S) ≤ k!; no assignment of finite weight gives −inf; (2) the centred Ryser
(Glynn) sum over sign vectors δ ∈ {±1}^k, δ_k = 1, walked in Gray-code order: one sign flips per step and the k row
sums change by ∓2 a_ij. The walk is cut into blocks of 2^BLOCK_BITS steps that start from row sums computed afresh,
so rounding does not accumulate along the whole walk and the blocks of one large matrix can go to the threads; a
batch of matrices is shared by the threads one matrix at a time. Terms are added with Neumaier's compensated sum.

``permanent_marginals_batch`` (twin of ``refefl.partition._permanent.permanent_marginals_batch``): the same
scaling, then the forward and backward sums over column subsets (bit masks, in increasing and decreasing order)
give per(e^S) and every a_ij per(minor) in O(k 2^k); GROUP matrices walk the masks together (their sums
interleaved, so the products vectorize), one group at a time per thread, scratch for the 2^k sums per thread.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, exp, fabs, log
from refefl_ext._rows cimport PARALLEL_MIN_ELEMENTS, Scratch, scratch_release, scratch_reserve


cdef extern from *:
    int popcount "__builtin_popcountll"(unsigned long long) noexcept nogil
    int lowest_bit "__builtin_ctzll"(unsigned long long) noexcept nogil


cdef enum:
    MAX_ORDER = 24
    PADDED = 24  # MAX_ORDER rounded up to a multiple of LANES
    LANES = 4  # partial products per term (rows padded to a multiple of LANES with row sums of 1)
    BLOCK_BITS = 12  # a block walks 2^12 Gray-code steps
    MAX_BLOCKS = 1 << (MAX_ORDER - 1 - BLOCK_BITS)
    MAX_MARGINAL_ORDER = 16
    GROUP = 4  # matrices whose subset sums walk the bit masks together (interleaved: one vector of doubles)


cdef struct Sum:  # Neumaier's compensated sum: the value is total + compensation
    double total
    double compensation


cdef inline void add(Sum* s, double x) noexcept nogil:
    cdef double t = s.total + x
    if fabs(s.total) >= fabs(x):
        s.compensation += (s.total - t) + x
    else:
        s.compensation += (x - t) + s.total
    s.total = t


cdef bint hungarian(const floating* w, Py_ssize_t k, double* u, double* v, Py_ssize_t* p) noexcept nogil:
    # Hungarian algorithm on costs c = −w (1-based arrays of k + 1: p[j] = row of column j, potentials u, v with
    # c − u − v ≥ 0, equality on the assignment); False if no assignment has finite weight
    cdef double minv[MAX_ORDER + 1]
    cdef Py_ssize_t way[MAX_ORDER + 1]
    cdef bint used[MAX_ORDER + 1]
    cdef Py_ssize_t i, j, i0, j0, j1
    cdef double delta, cur
    for j in range(k + 1):
        u[j] = 0.0
        v[j] = 0.0
        p[j] = 0
    for i in range(1, k + 1):
        p[0] = i
        j0 = 0
        for j in range(k + 1):
            minv[j] = INFINITY
            used[j] = False
        while True:  # grow the shortest-path tree from row i until it reaches a free column
            used[j0] = True
            i0 = p[j0]
            delta = INFINITY
            j1 = 0
            for j in range(1, k + 1):
                if not used[j]:
                    cur = -<double>w[(i0 - 1) * k + j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            if delta == INFINITY:  # every remaining column is −inf for the tree's rows: per = 0
                return False
            for j in range(k + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0 != 0:  # augment along the path
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return True


cdef bint assignment_scaling(const floating* w, Py_ssize_t k, double* a, Py_ssize_t kp,
                             double* weight) noexcept nogil:
    # writes the column-major padded a[j·kp + i] = exp(min(w_ij + u_i + v_j, 0)) (NumPy: `np.exp(log_scaled)` of
    # `assignment_scaling`, with u, v the negated potentials here) and the assignment weight Σ_i w[i, σ(i)];
    # False if no finite assignment
    cdef double u[MAX_ORDER + 1]
    cdef double v[MAX_ORDER + 1]
    cdef Py_ssize_t p[MAX_ORDER + 1]
    cdef Py_ssize_t i, j
    cdef double cur
    if not hungarian(w, k, u, v, p):
        return False
    weight[0] = 0.0
    for j in range(1, k + 1):
        weight[0] += w[(p[j] - 1) * k + j - 1]
    for j in range(kp * kp):
        a[j] = 0.0
    for j in range(k):
        for i in range(k):
            cur = <double>w[i * k + j] + u[i + 1] + v[j + 1]  # S = −(c − u − v) ≤ 0: c − u − v ≥ 0 is dual feasibility
            a[j * kp + i] = exp(cur if cur < 0.0 else 0.0)
    for j in range(1, k + 1):  # exactly 0 on σ (NumPy: `put_along_axis(scaled, assignment, 1.0)`): at |w| ~ 1e100
        a[(j - 1) * kp + p[j] - 1] = 1.0  # the rounding of u + v is far above 1 and would zero these entries
    return True


cdef Sum walk_block(const double* a, Py_ssize_t k, Py_ssize_t kp, Py_ssize_t start,
                    Py_ssize_t length) noexcept nogil:
    # Σ_{t in [start, start + length)} sign(g) Π_i r_i(g), g = t ^ (t >> 1) the Gray code of t, bit j set ⇔ δ_j = −1
    cdef double r[PADDED]
    cdef double p0, p1, p2, p3, sign = 1.0
    cdef Sum s = Sum(0.0, 0.0)
    cdef Py_ssize_t i, j, t, g = start ^ (start >> 1), bit
    for i in range(kp):
        r[i] = 1.0 if i >= k else 0.0
    for j in range(k):  # r_i = Σ_j δ_j a_ij at the block's first sign vector
        if (g >> j) & 1:
            sign = -sign
        for i in range(k):
            r[i] += -a[j * kp + i] if (g >> j) & 1 else a[j * kp + i]
    t = start
    while True:
        p0 = r[0]
        p1 = r[1]
        p2 = r[2]
        p3 = r[3]
        for i in range(1, kp // LANES):  # Π_i r_i in LANES independent products (they vectorize)
            p0 *= r[LANES * i]
            p1 *= r[LANES * i + 1]
            p2 *= r[LANES * i + 2]
            p3 *= r[LANES * i + 3]
        add(&s, sign * ((p0 * p1) * (p2 * p3)))
        t += 1
        if t == start + length:
            break
        j = 0  # the sign that flips from t − 1 to t: the lowest set bit of t
        while not (t >> j) & 1:
            j += 1
        g ^= (<Py_ssize_t>1) << j
        bit = (g >> j) & 1
        for i in range(kp):  # r ∓= 2 a[:, j] (padding rows have a = 0)
            r[i] += (-2.0 if bit else 2.0) * a[j * kp + i]
        sign = -sign
    return s


cdef double log_permanent_one(const floating* w, Py_ssize_t k, bint threads) noexcept nogil:
    # NumPy: `total + np.log(glynn_sums(scaled)) - (k - 1) * np.log(2.0)`, the blocks on threads if `threads`
    cdef double a[PADDED * PADDED]
    cdef Sum parts[MAX_BLOCKS]
    cdef Sum s = Sum(0.0, 0.0)
    cdef double weight
    cdef Py_ssize_t kp = (k + LANES - 1) // LANES * LANES, b
    cdef Py_ssize_t bits = k - 1 if k - 1 < BLOCK_BITS else BLOCK_BITS
    cdef Py_ssize_t n_blocks = (<Py_ssize_t>1) << (k - 1 - bits), length = (<Py_ssize_t>1) << bits
    if not assignment_scaling(w, k, a, kp, &weight):
        return -INFINITY
    for b in prange(n_blocks, schedule="static", use_threads_if=threads):
        parts[b] = walk_block(a, k, kp, b * length, length)
    for b in range(n_blocks):  # in block order: the same result with any number of threads
        add(&s, parts[b].total)
        add(&s, parts[b].compensation)
    return weight + log(s.total + s.compensation) - (k - 1) * log(2.0)


def log_permanent_batch(const floating[:, :, ::1] log_a, floating[::1] out):
    """Twin of ``refefl.partition._permanent.log_permanent_batch`` (Hungarian scaling, Gray-code walk)."""
    cdef Py_ssize_t m, n = log_a.shape[0], k = log_a.shape[1]
    cdef double walk = <double>(k * ((<Py_ssize_t>1) << (k - 1)))  # row-sum updates in one matrix's walk
    if n < 8 and walk >= PARALLEL_MIN_ELEMENTS:  # few large matrices: each one's blocks go to the threads
        with nogil:
            for m in range(n):
                out[m] = <floating>log_permanent_one(&log_a[m, 0, 0], k, True)
        return
    with nogil, parallel(use_threads_if=n > 1 and n * walk >= PARALLEL_MIN_ELEMENTS):
        for m in prange(n, schedule="static"):
            out[m] = <floating>log_permanent_one(&log_a[m, 0, 0], k, False)


cdef void marginals_group(const floating* w, Py_ssize_t k, Py_ssize_t count, floating* scaled, floating* log_per,
                          floating* marginals, double* forward, double* backward) noexcept nogil:
    # NumPy: `assignment_scaling`, then `subset_sums`, for `count` ≤ GROUP consecutive matrices at once: entry c of
    # forward[T·GROUP + c], backward[T·GROUP + c] is matrix c's sum at bit mask T, so that the walk over the masks
    # (the popcounts, the bit loops) is shared and the lanes' products vectorize; each lane adds its terms in the
    # twin's order (columns j increasing within a mask). Unused slots hold the identity matrix.
    cdef double u[MAX_ORDER + 1]
    cdef double v[MAX_ORDER + 1]
    cdef Py_ssize_t p[MAX_ORDER + 1]
    cdef double a[MAX_MARGINAL_ORDER * MAX_MARGINAL_ORDER * GROUP]  # e^S, a[(i·k + j)·GROUP + c]
    cdef double grad[MAX_MARGINAL_ORDER * MAX_MARGINAL_ORDER * GROUP]
    cdef double total[GROUP]
    cdef double term[GROUP]
    cdef double* entry
    cdef double* other
    cdef Py_ssize_t i, j, r, c, kk = k * k
    cdef unsigned long long t, rest, full = ((<unsigned long long>1) << k) - 1
    cdef double cur
    for c in range(GROUP):
        if c >= count:
            for i in range(kk):
                a[i * GROUP + c] = 1.0 if i % (k + 1) == 0 else 0.0
            continue
        hungarian(w + c * kk, k, u, v, p)  # finite input: an assignment exists
        for i in range(k):
            for j in range(k):
                cur = <double>w[c * kk + i * k + j] + u[i + 1] + v[j + 1]
                a[(i * k + j) * GROUP + c] = cur if cur < 0.0 else 0.0
        for j in range(1, k + 1):  # exactly 0 on σ
            a[((p[j] - 1) * k + j - 1) * GROUP + c] = 0.0
        for i in range(kk):
            scaled[c * kk + i] = <floating>a[i * GROUP + c]
            a[i * GROUP + c] = exp(a[i * GROUP + c])
    for i in range(kk * GROUP):
        grad[i] = 0.0
    for c in range(GROUP):
        forward[c] = 1.0
        backward[full * GROUP + c] = 1.0
    for t in range(1, full + 1):  # F(T) = Σ_{j ∈ T} F(T \ j) a[|T| − 1, j]
        r = popcount(t) - 1
        for c in range(GROUP):
            total[c] = 0.0
        rest = t
        while rest:
            j = lowest_bit(rest)
            other = forward + (t ^ ((<unsigned long long>1) << j)) * GROUP
            entry = a + (r * k + j) * GROUP
            for c in range(GROUP):
                total[c] = total[c] + other[c] * entry[c]
            rest &= rest - 1
        for c in range(GROUP):
            forward[t * GROUP + c] = total[c]
    t = full
    while t > 0:  # B(T) = Σ_{j ∉ T} a[|T|, j] B(T ∪ j); row |T| of the result gains F(T) a[|T|, j] B(T ∪ j)
        t -= 1
        r = popcount(t)
        for c in range(GROUP):
            total[c] = 0.0
        rest = full & ~t
        while rest:
            j = lowest_bit(rest)
            other = backward + (t | ((<unsigned long long>1) << j)) * GROUP
            entry = a + (r * k + j) * GROUP
            for c in range(GROUP):
                term[c] = entry[c] * other[c]
                total[c] = total[c] + term[c]
                grad[(r * k + j) * GROUP + c] += forward[t * GROUP + c] * term[c]
            rest &= rest - 1
        for c in range(GROUP):
            backward[t * GROUP + c] = total[c]
    for c in range(count):
        log_per[c] = <floating>log(forward[full * GROUP + c])
        for i in range(kk):
            marginals[c * kk + i] = <floating>(grad[i * GROUP + c] / forward[full * GROUP + c])


def permanent_marginals_batch(const floating[:, :, ::1] log_a, floating[:, :, ::1] scaled, floating[::1] log_per,
                              floating[:, :, ::1] marginals):
    """Twin of ``refefl.partition._permanent.permanent_marginals_batch`` (Hungarian scaling, subset sums)."""
    cdef Py_ssize_t g, n = log_a.shape[0], k = log_a.shape[1], size = (<Py_ssize_t>1) << log_a.shape[1]
    cdef Py_ssize_t groups = (n + GROUP - 1) // GROUP
    cdef double walk = <double>(k * (size >> 1))  # as log_permanent_batch's (the sums take about 3 such walks)
    cdef Scratch scratch
    cdef int failed = 0
    cdef int* failed_matrices = &failed  # written through a pointer: shared by the threads
    with nogil, parallel(use_threads_if=groups > 1 and n * walk >= PARALLEL_MIN_ELEMENTS):
        scratch = Scratch(NULL, 0)  # one buffer per thread (reserved once): the forward and backward sums
        for g in prange(groups, schedule="static"):
            if not scratch_reserve(&scratch, 2 * size * GROUP):
                failed_matrices[0] = 1
                continue
            marginals_group(&log_a[g * GROUP, 0, 0], k, min(GROUP, n - g * GROUP), &scaled[g * GROUP, 0, 0],
                            &log_per[g * GROUP], &marginals[g * GROUP, 0, 0], scratch.data,
                            scratch.data + size * GROUP)
        scratch_release(&scratch)
    if failed:
        raise MemoryError("permanent_marginals_batch: no memory for the subset sums")
